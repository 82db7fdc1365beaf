//! Disk and permissions: the run folder on a small tmpfs that fills up, then one remounted
//! read-only. Each gives a clear error, leaves a valid checkpoint, and the run resumes once the
//! disk is usable again. Mounting needs root (or CAP_SYS_ADMIN); without it the tests say so and
//! stop.

use std::path::{Path, PathBuf};
use std::process::Command;

use orx_core::run::RunStatus;
use orx_testkit::text;

use crate::{ONE_ITEM, WRITE_A, orx, repo_with, scenario};

/// A tmpfs mounted on `path`; unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            println!(
                "skipped: cannot mount a tmpfs on {} (needs root)",
                path.display()
            );
            return None;
        }
        Some(Tmpfs(path.to_path_buf()))
    }

    fn remount(&self, opts: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn checkpoint_is_valid(runs: &Path) -> Option<String> {
    let id = std::fs::read_dir(runs)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .find(|n| orx_core::run::is_valid_run_id(n))?;
    let state = std::fs::read_to_string(runs.join(&id).join("state.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&state)
        .unwrap_or_else(|e| panic!("state.json does not parse after the failure: {e}"));
    Some(id)
}

#[test]
fn a_full_disk_gives_a_clear_error_and_a_valid_checkpoint_and_the_run_resumes() {
    // Long prompts and agent logs fill a 96 KiB run folder part way through the run.
    let implement = "  - write: { a.txt: \"a\\n\" }\n    stream_lines: 2000\n";
    let repo = repo_with(
        &[("README.md", "x\n")],
        &scenario(ONE_ITEM, implement, ""),
        "",
    );
    let runs = repo.path().join("runs");
    let Some(fs) = Tmpfs::mount(&runs, "96k") else {
        return;
    };
    let out = orx(&repo, &["run", "Add a"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("orx resume"), "the fix is named: {err}");
    let Some(id) = checkpoint_is_valid(&runs) else {
        panic!("the disk filled before the run folder existed; raise the tmpfs size\n{err}");
    };
    fs.remount("size=64m");
    let out = orx(&repo, &["resume", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(repo.state(&id).status, RunStatus::Succeeded);
}

#[test]
fn a_read_only_run_folder_gives_a_clear_error_and_keeps_the_checkpoint() {
    let flag = tempfile::NamedTempFile::new().unwrap();
    let flag_path = flag.path().to_path_buf();
    drop(flag);
    let gate = format!(
        "gates:\n  - name: flag\n    baseline: ignore\n    command: sh\n    args: [\"-c\", \"test -f {}\"]\nrun:\n  max_fix_attempts: 1\n",
        flag_path.display()
    );
    let repo = repo_with(
        &[("README.md", "x\n")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        &gate,
    );
    let runs = repo.path().join("runs");
    let Some(fs) = Tmpfs::mount(&runs, "64m") else {
        return;
    };
    let out = orx(&repo, &["run", "Add a"]);
    assert_eq!(out.status.code(), Some(1), "the gate fails: {}", text(&out));
    let id = checkpoint_is_valid(&runs).unwrap();
    let before = std::fs::read(runs.join(&id).join("state.json")).unwrap();
    fs.remount("ro");
    std::fs::write(&flag_path, "").unwrap();
    let out = orx(&repo, &["resume", &id]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(err.contains("writable"), "the fix is named: {err}");
    assert_eq!(
        std::fs::read(runs.join(&id).join("state.json")).unwrap(),
        before,
        "the checkpoint is untouched"
    );
    fs.remount("rw");
    let out = orx(&repo, &["resume", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(repo.state(&id).status, RunStatus::Succeeded);
    let _ = std::fs::remove_file(&flag_path);
}
