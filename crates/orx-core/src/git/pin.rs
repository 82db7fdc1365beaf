//! Pinning git to one linked worktree.
//!
//! A linked worktree's `.git` is a one-line file naming its administrative folder inside the
//! main repository (`.git/worktrees/<name>`). If that file is deleted (an agent may do it) or the
//! worktree's folder is removed, a plain `git` started there walks up the folders, finds the
//! user's own checkout, and `add -A`, `commit`, `reset --hard` or `clean` then act on it. So
//! every command of a pinned runner names its folders itself (`GIT_DIR`, `GIT_WORK_TREE`), and
//! before each one the worktree is checked to still be the one git registered: otherwise no git
//! command runs at all.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What is wrong with a worktree that orx refuses to run git in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorktreeProblem {
    /// Its folder does not exist any more.
    FolderGone,
    /// Its `.git` file was deleted.
    GitFileMissing,
    /// Its `.git` is no longer the file git wrote (another target, or a folder).
    GitFileChanged,
    /// The repository has no worktree registered at this folder.
    NotRegistered,
}

impl std::fmt::Display for WorktreeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WorktreeProblem::FolderGone => "its folder is gone",
            WorktreeProblem::GitFileMissing => "its .git file was removed",
            WorktreeProblem::GitFileChanged => {
                "its .git file no longer points at the worktree's git data"
            }
            WorktreeProblem::NotRegistered => {
                "the repository has no worktree registered at this folder"
            }
        })
    }
}

/// A worktree whose git commands are pinned to it.
#[derive(Debug)]
pub(super) struct Pin {
    /// The worktree's folder.
    pub work_tree: PathBuf,
    /// The main repository's folder (where the administrative folder is looked up).
    pub repo: PathBuf,
    /// The administrative folder, found once (the first time the worktree exists).
    git_dir: OnceLock<PathBuf>,
}

impl Pin {
    pub fn new(repo: PathBuf, work_tree: PathBuf) -> Self {
        Self {
            work_tree,
            repo,
            git_dir: OnceLock::new(),
        }
    }

    /// The administrative folder, after checking that the worktree is still the one git
    /// registered there.
    pub fn check(
        &self,
        common_dir: impl FnOnce() -> crate::Result<PathBuf>,
    ) -> crate::Result<&Path> {
        let lost = |problem| -> crate::Error {
            super::GitError::WorktreeLost {
                worktree: self.work_tree.clone(),
                problem,
            }
            .into()
        };
        if !self.work_tree.is_dir() {
            return Err(lost(WorktreeProblem::FolderGone));
        }
        let git_dir = match self.git_dir.get() {
            Some(d) => d,
            None => {
                let found = locate(&common_dir()?, &self.work_tree)?
                    .ok_or_else(|| lost(WorktreeProblem::NotRegistered))?;
                self.git_dir.get_or_init(|| found)
            }
        };
        match points_at(&self.work_tree) {
            Ok(Some(target)) if same_file(&target, git_dir) => Ok(git_dir),
            Ok(_) => Err(lost(WorktreeProblem::GitFileChanged)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(lost(WorktreeProblem::GitFileMissing))
            }
            Err(_) => Err(lost(WorktreeProblem::GitFileChanged)),
        }
    }
}

/// The administrative folder under `<common_dir>/worktrees/` whose `gitdir` file names
/// `<work_tree>/.git`: the repository's own record, which the worktree's content cannot change.
pub(super) fn locate(common_dir: &Path, work_tree: &Path) -> crate::Result<Option<PathBuf>> {
    let want = canonical_git_file(work_tree)?;
    let admin = common_dir.join("worktrees");
    let entries = match std::fs::read_dir(&admin) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    for e in entries.flatten() {
        let dir = e.path();
        let Ok(text) = std::fs::read_to_string(dir.join("gitdir")) else {
            continue;
        };
        let named = dir.join(text.trim());
        if canonical_git_file(named.parent().unwrap_or(&named)).is_ok_and(|p| p == want) {
            return Ok(Some(dir));
        }
    }
    Ok(None)
}

/// `<dir>/.git` with `dir` resolved (the `.git` file itself may be missing).
fn canonical_git_file(dir: &Path) -> std::io::Result<PathBuf> {
    Ok(dir.canonicalize()?.join(".git"))
}

/// The folder a worktree's `.git` file names: None when it is not such a file.
fn points_at(work_tree: &Path) -> std::io::Result<Option<PathBuf>> {
    let text = std::fs::read_to_string(work_tree.join(".git"))?;
    Ok(text
        .strip_prefix("gitdir:")
        .map(|t| work_tree.join(t.trim())))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
