//! runs/<id>/orx.lock: one driver per run; a stale lock (dead pid) is taken over.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::sys::pid_alive;
use crate::{Error, Result};

#[derive(Debug, Serialize, Deserialize)]
struct LockFile {
    pid: u32,
    started_at: String,
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
        for _ in 0..3 {
            match fs_err::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    let body = serde_json::to_string(&LockFile {
                        pid,
                        started_at: super::now_rfc3339(),
                    })
                    .map_err(std::io::Error::other)?;
                    f.write_all(body.as_bytes())?;
                    f.sync_all()?;
                    return Ok(Self {
                        path: path.to_path_buf(),
                        pid,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    match Self::holder(path) {
                        Some(holder) if holder != pid && pid_alive(holder) => {
                            return Err(Error::Locked {
                                run_id: run_id.to_string(),
                                pid: holder,
                            });
                        }
                        // Stale (dead pid or unreadable): take it over.
                        _ => {
                            let _ = fs_err::remove_file(path);
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::run(
            format!("could not take the lock {}", path.display()),
            "another orx process keeps re-creating it; check `orx status`",
        ))
    }

    /// The pid written in the lock file at `path`, if readable.
    pub fn holder(path: &Path) -> Option<u32> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str::<LockFile>(&text).ok().map(|l| l.pid)
    }

    /// The pid of a live process holding the lock at `path`.
    pub fn live_holder(path: &Path) -> Option<u32> {
        Self::holder(path).filter(|p| pid_alive(*p))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if Self::holder(&self.path) == Some(self.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
