//! runs/<id>/orx.lock: one driver per run; a stale lock (dead pid) is taken over.
//!
//! The lock file appears with its content in one step (written aside, then hard-linked into
//! place), so no reader ever sees it empty. It records the holder's start time too, so a pid
//! reused by an unrelated process is not mistaken for the driver.
//!
//! Taking over a stale lock means removing it and linking ours in its place: two processes doing
//! that at once could each remove the other's fresh lock and both go on. So a takeover happens
//! only while holding an exclusive `flock` on a sibling file (`orx.lock.takeover`), and the
//! holder is read again under it: exactly one process wins, the other finds a live holder.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RunError;
use super::sys::{pid_alive, process_start};
use crate::Result;

#[derive(Debug, Serialize, Deserialize)]
struct LockFile {
    pid: u32,
    started_at: String,
    #[serde(default)]
    process_start: Option<u64>,
}

/// A held run lock; removed on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    pid: u32,
}

impl RunLock {
    /// Takes the lock of the run whose lock file is `path`.
    pub fn acquire(path: &Path, run_id: &str) -> Result<Self> {
        let pid = std::process::id();
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let body = serde_json::to_string(&LockFile {
            pid,
            started_at: super::now_rfc3339(),
            process_start: process_start(pid),
        })
        .map_err(std::io::Error::other)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".orx-lock-")
            .tempfile_in(dir)?;
        tmp.write_all(body.as_bytes())?;
        tmp.as_file().sync_all()?;
        let held = || Self {
            path: path.to_path_buf(),
            pid,
        };
        for _ in 0..5 {
            match std::fs::hard_link(tmp.path(), path) {
                Ok(()) => return Ok(held()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(fs_err_with(e, path).into()),
            }
            // Someone's lock is there: take it over only if it is stale, and only under the
            // takeover guard, reading the holder again once the guard is ours.
            let guard = fs_err::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(takeover_guard(path))?;
            guard
                .file()
                .lock()
                .map_err(|e| fs_err_with(e, &takeover_guard(path)))?;
            match Self::live_holder(path) {
                Some(holder) if holder != pid => {
                    return Err(RunError::Locked {
                        run_id: run_id.to_string(),
                        pid: holder,
                    }
                    .into());
                }
                // Stale (dead or reused pid, or our own leftover): replace it.
                _ => match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(fs_err_with(e, path).into()),
                },
            }
            match std::fs::hard_link(tmp.path(), path) {
                Ok(()) => return Ok(held()),
                // A newcomer linked its lock while the old one was gone: it is live; the next
                // round names it.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(fs_err_with(e, path).into()),
            }
        }
        Err(RunError::LockContended {
            path: path.to_path_buf(),
        }
        .into())
    }

    /// The lock now lives at `path` (its folder was renamed into place while it was held).
    pub fn moved_to(&mut self, path: PathBuf) {
        self.path = path;
    }

    fn read(path: &Path) -> Option<LockFile> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str::<LockFile>(&text).ok()
    }

    /// The pid written in the lock file at `path`, if readable.
    pub fn holder(path: &Path) -> Option<u32> {
        Self::read(path).map(|l| l.pid)
    }

    /// The pid of a live process holding the lock at `path` (not a later process that got the
    /// same pid).
    pub fn live_holder(path: &Path) -> Option<u32> {
        let l = Self::read(path)?;
        if !pid_alive(l.pid) {
            return None;
        }
        match (l.process_start, process_start(l.pid)) {
            (Some(recorded), Some(now)) if recorded != now => None,
            _ => Some(l.pid),
        }
    }
}

/// The file whose `flock` serialises takeovers of the lock at `path`.
fn takeover_guard(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".takeover");
    path.with_file_name(name)
}

fn fs_err_with(e: std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!("{e} (taking the lock {})", path.display()),
    )
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if Self::holder(&self.path) == Some(self.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_a_stale_one_taken_over() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("orx.lock");
        let held = RunLock::acquire(&p, "r").unwrap();
        assert_eq!(RunLock::live_holder(&p), Some(std::process::id()));
        // The same process may take it again (resume in-process); another pid may not.
        std::fs::write(&p, r#"{"pid":1,"started_at":"x"}"#).unwrap();
        let err = RunLock::acquire(&p, "r").unwrap_err();
        assert!(
            err.to_string()
                .contains("already being driven by process 1"),
            "{err}"
        );
        drop(held);
        // A dead pid: taken over.
        std::fs::write(&p, r#"{"pid":4194303,"started_at":"x"}"#).unwrap();
        let l = RunLock::acquire(&p, "r").unwrap();
        assert_eq!(RunLock::holder(&p), Some(std::process::id()));
        drop(l);
        assert!(!p.exists());
        // A live pid whose start time differs (a reused pid): taken over.
        std::fs::write(
            &p,
            format!(
                r#"{{"pid":{},"started_at":"x","process_start":1}}"#,
                std::process::id()
            ),
        )
        .unwrap();
        assert_eq!(RunLock::live_holder(&p), None);
    }
}
