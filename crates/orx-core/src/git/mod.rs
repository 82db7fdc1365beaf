//! The git CLI wrapper: repository checks, worktrees, diffs, commits, push. Every command goes
//! through the process layer and is logged to the run's logs/git.log when a log is set. A runner
//! made with [`Git::worktree`] is pinned to that worktree: it never reaches the user's checkout.

mod changes;
mod error;
pub mod github;
mod pin;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use changes::{Changes, DiffStats, Snapshot};
pub use error::GitError;
pub use pin::WorktreeProblem;

use crate::cancel::CancelToken;
use crate::process::{ProcessSpec, Stream, run};
use crate::{Error, Result};

/// The environment of every git command orx runs: never prompt, take no optional locks (a
/// running run's index is not touched by a status), messages in English for the parsers.
const GIT_ENV: [(&str, &str); 3] = [
    ("GIT_TERMINAL_PROMPT", "0"),
    ("GIT_OPTIONAL_LOCKS", "0"),
    ("LC_ALL", "C"),
];

/// A failure of `git worktree add` caused by another worktree being added at the same instant.
fn is_transient_worktree_error(message: &str) -> bool {
    message.contains(".lock") || message.contains("failed to read .git/worktrees/")
}

/// A failure of `git worktree add` because an earlier add of the same path was killed: git left
/// the path registered (and locked, when git was still "initializing") with no folder.
fn is_abandoned_worktree_error(message: &str) -> bool {
    // "locked": git was killed while it made the worktree ("initializing"); "registered": it was
    // killed after registering the worktree and before (or while) filling its folder.
    message.contains("missing but locked worktree")
        || message.contains("missing but already registered worktree")
}

/// A git runner bound to one directory.
#[derive(Clone, Debug)]
pub struct Git {
    dir: PathBuf,
    log: Option<PathBuf>,
    /// Secrets masked in the log (a token in a remote's URL, in a push error).
    redactor: Option<Arc<crate::redact::Redactor>>,
    timeout: Duration,
    /// Whether git has a committer identity, asked once per runner family: without one orx
    /// commits as orx.
    identity: Arc<OnceLock<bool>>,
    /// Set for a worktree's runner: every command is pinned to that worktree.
    pin: Option<Arc<pin::Pin>>,
    /// The run's ledger of live process groups.
    ledger: Option<crate::process::GroupLedger>,
}

/// What one git command did.
struct Exec {
    ok: bool,
    stdout: Vec<u8>,
    /// stdout's whole size (`stdout` may be cut).
    total: u64,
    stderr: String,
}

/// `git diff` of the index against a commit, as a binary-safe patch.
const DIFF_CACHED_BINARY: [&str; 5] = [
    "diff",
    "--cached",
    "--no-color",
    "--no-ext-diff",
    "--binary",
];

fn os<'a>(args: &'a [&'a str]) -> impl Iterator<Item = &'a OsStr> + 'a {
    args.iter().map(OsStr::new)
}

fn git_error(command: &str, stderr: &str) -> Error {
    GitError::Command {
        command: command.to_string(),
        message: stderr.trim().to_string(),
    }
    .into()
}

impl Exec {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Git {
    /// Git commands run in `dir` (the repository itself, or a read-only probe).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            log: None,
            redactor: None,
            timeout: Duration::from_secs(300),
            identity: Arc::default(),
            pin: None,
            ledger: None,
        }
    }

    /// The same, recording its children in a run's `ledger`.
    pub fn with_ledger(mut self, ledger: crate::process::GroupLedger) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// The same, logging to `log`.
    pub fn with_log(mut self, log: Option<PathBuf>) -> Self {
        self.log = log;
        self
    }

    /// The same, masking `redactor`'s secrets in the log.
    pub fn with_redactor(mut self, redactor: crate::redact::Redactor) -> Self {
        self.redactor = Some(Arc::new(redactor));
        self
    }

    /// Appends one record to the log, secrets masked.
    fn log_line(&self, line: &str) {
        if let Some(log) = &self.log {
            let line = match &self.redactor {
                Some(r) => r.redact(line),
                None => line.to_string(),
            };
            let _ = crate::fsutil::append_line(log, &line);
        }
    }

    /// A runner for the linked worktree at `work_tree` of this runner's repository, with the
    /// same log. Each of its commands first checks that the worktree is still the one the
    /// repository registered (its folder exists, its `.git` file names its git data) and runs
    /// with that worktree's folders named explicitly; otherwise it fails with
    /// [`GitError::WorktreeLost`] and runs nothing.
    pub fn worktree(&self, work_tree: impl Into<PathBuf>) -> Self {
        let work_tree = work_tree.into();
        Self {
            dir: work_tree.clone(),
            log: self.log.clone(),
            redactor: self.redactor.clone(),
            timeout: self.timeout,
            identity: Arc::clone(&self.identity),
            pin: Some(Arc::new(pin::Pin::new(self.dir.clone(), work_tree))),
            ledger: self.ledger.clone(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A pinned worktree's administrative folder (`.git/worktrees/<name>`), after the same
    /// checks every command makes. None for a runner that is not pinned.
    pub fn worktree_git_dir(&self) -> Result<Option<PathBuf>> {
        match &self.pin {
            Some(p) => Ok(Some(p.check(|| common_dir(&p.repo))?.to_path_buf())),
            None => Ok(None),
        }
    }

    /// Checks that a pinned worktree is still the one git registered (see [`Git::worktree`]).
    pub fn check_worktree(&self) -> Result<()> {
        self.worktree_git_dir().map(|_| ())
    }

    /// Runs git with `args`; returns stdout, or an error with stderr.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        self.run_with_env(args, &[])
    }

    /// [`Git::run`] with extra environment variables (a replayed commit's author).
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
        let (ok, out, err) = self.try_run_env(args, env)?;
        if ok {
            Ok(out)
        } else {
            Err(GitError::Command {
                command: args.join(" "),
                message: err.trim().to_string(),
            }
            .into())
        }
    }

    /// The checkout's uncommitted changes, as paths: tracked files changed (staged or not) and
    /// untracked files git does not ignore.
    pub fn uncommitted(&self) -> Result<Vec<String>> {
        Ok(self
            .run(&["status", "--porcelain=v1", "--untracked-files=all"])?
            .lines()
            .filter_map(|l| l.get(3..))
            .map(String::from)
            .collect())
    }

    /// A commit of the checkout as it is (tracked changes and untracked files git does not
    /// ignore) on top of HEAD, made with a private index: the user's index and files are not
    /// touched. None when nothing is uncommitted.
    pub fn snapshot_commit(&self, message: &str) -> Result<Option<String>> {
        let head = self.head()?;
        let tree = self.with_private_index(|env| {
            let (ok, out, err) = self.try_run_env(&["write-tree"], env)?;
            if !ok {
                return Err(git_error("write-tree", &err));
            }
            Ok(out.trim().to_string())
        })?;
        if self
            .run(&["rev-parse", &format!("{head}^{{tree}}")])?
            .trim()
            == tree
        {
            return Ok(None);
        }
        let mut args = vec![];
        if !self
            .try_run(&["config", "user.email"])
            .map(|(ok, out, _)| ok && !out.trim().is_empty())
            .unwrap_or(false)
        {
            args.extend(["-c", "user.name=orx", "-c", "user.email=orx@localhost"]);
        }
        args.extend([
            "commit-tree",
            tree.as_str(),
            "-p",
            head.as_str(),
            "-m",
            message,
        ]);
        Ok(Some(self.run(&args)?.trim().to_string()))
    }

    /// Runs git; returns (success, stdout, stderr) without turning failure into an error.
    pub fn try_run(&self, args: &[&str]) -> Result<(bool, String, String)> {
        self.try_run_env(args, &[])
    }

    /// The worktree's changes against `base` (committed, staged, unstaged, untracked) without
    /// touching its index: a private index is used, so a running run is not disturbed.
    pub fn diff_readonly(&self, base: &str) -> Result<String> {
        Ok(self.diff_readonly_capped(base, usize::MAX)?.0)
    }

    /// [`Git::diff_readonly`] keeping at most `max` bytes of the patch; returns it and the
    /// patch's whole size.
    pub fn diff_readonly_capped(&self, base: &str, max: usize) -> Result<(String, u64)> {
        self.with_private_index(|env| {
            let e = self.exec_capped(
                &os(&DIFF_CACHED_BINARY)
                    .chain([OsStr::new(base)])
                    .collect::<Vec<_>>(),
                env,
                max,
            )?;
            if !e.ok {
                return Err(git_error("diff --cached", &e.stderr));
            }
            Ok((e.text(), e.total))
        })
    }

    /// [`Git::diff_readonly`] written to the file `out` (a patch of any size, in no memory).
    pub fn diff_readonly_to(&self, base: &str, out: &Path) -> Result<()> {
        let output = {
            let mut o = OsString::from("--output=");
            o.push(out);
            o
        };
        self.with_private_index(|env| {
            let args: Vec<&OsStr> = os(&DIFF_CACHED_BINARY)
                .chain([output.as_os_str(), OsStr::new(base)])
                .collect();
            let e = self.exec_capped(&args, env, 0)?;
            if !e.ok {
                return Err(git_error("diff --cached --output", &e.stderr));
            }
            Ok(())
        })
    }

    /// Runs `f` with the environment of a private index holding the worktree's content.
    fn with_private_index<T>(&self, f: impl FnOnce(&[(&str, &str)]) -> Result<T>) -> Result<T> {
        let tmp = tempfile::Builder::new().prefix("orx-index-").tempdir()?;
        let index = tmp.path().join("index");
        let index = index.display().to_string();
        let env = [("GIT_INDEX_FILE", index.as_str())];
        for args in [&["read-tree", "HEAD"][..], &["add", "-A"][..]] {
            let (ok, _, err) = self.try_run_env(args, &env)?;
            if !ok {
                return Err(git_error(&args.join(" "), &err));
            }
        }
        f(&env)
    }

    fn try_run_env(
        &self,
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> Result<(bool, String, String)> {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        let e = self.exec_capped(&args, extra_env, usize::MAX)?;
        let out = e.text();
        Ok((e.ok, out, e.stderr))
    }

    /// Runs git with arguments that may not be UTF-8 (paths as git gave them); returns
    /// (success, stdout's exact bytes, stderr).
    fn run_bytes(&self, args: &[&[u8]]) -> Result<(bool, Vec<u8>, String)> {
        use std::os::unix::ffi::OsStrExt;
        let args: Vec<&OsStr> = args.iter().map(|a| OsStr::from_bytes(a)).collect();
        let e = self.exec_capped(&args, &[], usize::MAX)?;
        Ok((e.ok, e.stdout, e.stderr))
    }

    /// The one place a git command starts: the pin is checked, the process layer runs it
    /// (keeping at most `max` bytes of its output), the log records it.
    fn exec_capped(&self, args: &[&OsStr], extra_env: &[(&str, &str)], max: usize) -> Result<Exec> {
        let mut env: Vec<(String, String)> = GIT_ENV
            .iter()
            .chain(extra_env)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(p) = &self.pin {
            let git_dir = p.check(|| common_dir(&p.repo))?;
            env.push(("GIT_DIR".into(), git_dir.display().to_string()));
            env.push(("GIT_WORK_TREE".into(), p.work_tree.display().to_string()));
        }
        let mut spec = ProcessSpec::new("git", args.iter().map(|a| OsString::from(*a)));
        spec.cwd = Some(self.dir.clone());
        spec.timeout = Some(self.timeout);
        // A diff of a minified file has lines of megabytes: git's output is read whole.
        spec.whole_lines = true;
        spec.capture_stdout = Some(max);
        spec.ledger = self.ledger.clone();
        // Left to finish if orx dies (a killed git leaves its lock files); a later orx ends it
        // from the ledger with SIGTERM first, on which git removes its locks.
        spec.die_with_parent = false;
        spec.env = env;
        let mut err = String::new();
        let res = run(&spec, &CancelToken::new(), &mut |s, l| {
            if s == Stream::Stderr {
                err.push_str(l);
                err.push('\n');
            }
        })
        .map_err(|e| match e {
            Error::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                if self.dir.is_dir() {
                    GitError::NotInstalled.into()
                } else {
                    GitError::NoSuchFolder {
                        dir: self.dir.clone(),
                    }
                    .into()
                }
            }
            other => other,
        })?;
        if self.log.is_some() {
            let shown: Vec<String> = args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let line = format!(
                "$ git {} # in {} -> {:?} ({} ms){}",
                shown.join(" "),
                self.dir.display(),
                res.termination,
                res.duration.as_millis(),
                if res.success() || err.trim().is_empty() {
                    String::new()
                } else {
                    format!("\n{}", err.trim_end())
                }
            );
            self.log_line(&line);
        }
        Ok(Exec {
            ok: res.success(),
            stdout: res.stdout,
            total: res.stdout_bytes,
            stderr: err,
        })
    }

    /// The top level of the repository containing `dir`.
    pub fn toplevel(dir: &Path) -> Result<PathBuf> {
        let (ok, out, _) = Git::new(dir).try_run(&["rev-parse", "--show-toplevel"])?;
        if !ok {
            return Err(GitError::NotARepository {
                dir: dir.to_path_buf(),
            }
            .into());
        }
        let top = out.trim();
        if top.contains(char::REPLACEMENT_CHARACTER) {
            // Run folders record paths as UTF-8 text (state.json, meta.json).
            return Err(GitError::PathNotUtf8 {
                path: top.to_string(),
            }
            .into());
        }
        Ok(PathBuf::from(top))
    }

    /// The sha of `rev`, or None when it does not resolve.
    pub fn resolve(&self, rev: &str) -> Result<Option<String>> {
        let spec = format!("{rev}^{{commit}}");
        let (ok, out, _) = self.try_run(&["rev-parse", "--verify", "--quiet", &spec])?;
        Ok(ok.then(|| out.trim().to_string()))
    }

    /// The checked-out branch, or None when HEAD is detached.
    pub fn current_branch(&self) -> Result<Option<String>> {
        let (ok, out, _) = self.try_run(&["symbolic-ref", "--quiet", "--short", "HEAD"])?;
        Ok(ok.then(|| out.trim().to_string()))
    }

    /// The sha of HEAD.
    pub fn head(&self) -> Result<String> {
        Ok(self.run(&["rev-parse", "HEAD"])?.trim().to_string())
    }

    /// Checks that a run can start from `base`: the repository has a commit and the branch exists.
    pub fn check_base(&self, base: &str) -> Result<String> {
        if let Some(sha) = self.resolve(base)? {
            return Ok(sha);
        }
        if self.resolve("HEAD")?.is_none() {
            return Err(GitError::NoCommit.into());
        }
        Err(GitError::NoBaseBranch {
            base: base.to_string(),
        }
        .into())
    }

    /// Adds the worktree `path` on `branch`, creating the branch from `base` unless it exists
    /// (a resumed run whose worktree was removed gets its branch back).
    pub fn worktree_add(&self, path: &Path, branch: &str, base: &str) -> Result<()> {
        let p = path.display().to_string();
        // Concurrent runs add worktrees at the same instant: git may meet another's ref lock
        // or its half-made administrative folder (`failed to read .git/worktrees/<id>/...`).
        // Such failures are retried briefly; a failed try may have created the branch already,
        // so each try after the first asks whether the branch exists. The first assumes a new
        // branch (a new run's): when the branch exists, git says so before it creates anything.
        let mut last = None;
        for i in 0..5 {
            let exists = i > 0 && self.resolve(&format!("refs/heads/{branch}"))?.is_some();
            let args: Vec<&str> = if exists {
                vec!["worktree", "add", "--quiet", &p, branch]
            } else {
                vec!["worktree", "add", "--quiet", "-b", branch, &p, base]
            };
            match self.run(&args) {
                Ok(_) => return Ok(()),
                // "fatal: a branch named 'orx/…' already exists" (git runs with LC_ALL=C): the
                // next try adds the worktree on the existing branch.
                Err(e) if !exists && e.to_string().contains("a branch named") => {
                    last = Some(e);
                }
                Err(e) if is_abandoned_worktree_error(&e.to_string()) => {
                    last = Some(e);
                    let _ = self.try_run(&["worktree", "unlock", &p]);
                    let _ = self.try_run(&["worktree", "prune"]);
                }
                Err(e) if is_transient_worktree_error(&e.to_string()) => {
                    last = Some(e);
                    if path.exists() {
                        let _ = std::fs::remove_dir_all(path);
                        let _ = self.try_run(&["worktree", "prune"]);
                    }
                    std::thread::sleep(Duration::from_millis(100 * (i + 1)));
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| git_error("worktree add", "failed")))
    }

    /// `git worktree remove --force <path>` then `git worktree prune`.
    pub fn worktree_remove(&self, path: &Path) -> Result<()> {
        let p = path.display().to_string();
        if path.exists() {
            let (ok, _, err) = self.try_run(&["worktree", "remove", "--force", &p])?;
            if !ok && path.exists() {
                return Err(GitError::Command {
                    command: format!("worktree remove {p}"),
                    message: err,
                }
                .into());
            }
        }
        self.run(&["worktree", "prune"])?;
        Ok(())
    }

    /// Stages everything in the worktree (new files in new folders included).
    pub fn add_all(&self) -> Result<()> {
        self.run(&["add", "-A"]).map(|_| ())
    }

    /// The diff of the worktree (staged, committed and untracked) against `start`.
    pub fn diff_since(&self, start: &str) -> Result<String> {
        self.add_all()?;
        self.run(&[
            "diff",
            "--cached",
            "--no-color",
            "--no-ext-diff",
            "--binary",
            start,
        ])
    }

    /// The tree of what the index holds now (after [`Git::add_all`]: the worktree's files).
    pub fn write_tree(&self) -> Result<String> {
        Ok(self.run(&["write-tree"])?.trim().to_string())
    }

    /// The diff from tree (or commit) `from` to `to`.
    pub fn diff_trees(&self, from: &str, to: &str) -> Result<String> {
        self.run(&["diff", "--no-color", "--no-ext-diff", "--binary", from, to])
    }

    /// Everything the worktree changed against `start` (staged, committed, unstaged, untracked)
    /// in two commands: `add -A`, then one diff giving the patch, the statistics and the paths.
    pub fn changes(&self, start: &str) -> Result<Changes> {
        self.add_all()?;
        self.staged_changes(start)
    }

    /// The staged changes against `start` (what `git add -A` left in the index).
    fn staged_changes(&self, start: &str) -> Result<Changes> {
        let out = self.run(&[
            "diff",
            "--cached",
            "--no-color",
            "--no-ext-diff",
            "--binary",
            "--numstat",
            "-z",
            "--patch",
            start,
        ])?;
        Ok(Changes::parse(&out))
    }

    /// [`Git::changes`] in a worktree where the agent may have made nested repositories: one
    /// without a commit stops `git add -A`, so its `.git` is removed (the files stay, as plain
    /// files) and the staging is tried again. Returns the changes and the nested repositories.
    pub fn changes_unnesting(&self, start: &str) -> Result<(Changes, Vec<String>)> {
        let mut nested = Vec::new();
        for _ in 0..64 {
            let (ok, _, err) = self.try_run(&["add", "-A"])?;
            if ok {
                return Ok((self.staged_changes(start)?, nested));
            }
            // "error: 'vendor/lib/' does not have a commit checked out"
            let Some(rel) = err
                .lines()
                .find_map(|l| l.split_once("' does not have a commit checked out"))
                .and_then(|(head, _)| head.rsplit_once('\'').map(|(_, p)| p.trim_end_matches('/')))
                .filter(|p| !p.is_empty())
            else {
                return Err(GitError::Command {
                    command: "add -A".into(),
                    message: err.trim().to_string(),
                }
                .into());
            };
            if !remove_nested_git(&self.dir, Path::new(rel))? {
                return Err(GitError::Command {
                    command: "add -A".into(),
                    message: err.trim().to_string(),
                }
                .into());
            }
            nested.push(rel.to_string());
        }
        Err(GitError::Command {
            command: "add -A".into(),
            message: "too many nested repositories in the worktree".into(),
        }
        .into())
    }

    /// Paths changed in the worktree against `start` (after staging everything).
    pub fn changed_paths(&self, start: &str) -> Result<Vec<String>> {
        self.add_all()?;
        Ok(self
            .staged_paths(start)?
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect())
    }

    /// The paths staged against `start`, as git's own bytes (`diff --cached --name-only -z`).
    fn staged_paths(&self, start: &str) -> Result<Vec<Vec<u8>>> {
        let (ok, out, err) = self.run_bytes(&[
            b"diff".as_slice(),
            b"--cached",
            b"--name-only",
            b"-z",
            b"--no-renames",
            start.as_bytes(),
        ])?;
        if !ok {
            return Err(GitError::Command {
                command: format!("diff --cached --name-only {start}"),
                message: err,
            }
            .into());
        }
        Ok(out
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(<[u8]>::to_vec)
            .collect())
    }

    /// HEAD and the status of every tracked and untracked file, in one command
    /// (`git status --porcelain=v2 --branch`): equal snapshots mean an unchanged worktree.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let text = self.run(&[
            "status",
            "--porcelain=v2",
            "--branch",
            "--untracked-files=all",
            "--no-renames",
        ])?;
        let head = text
            .lines()
            .find_map(|l| l.strip_prefix("# branch.oid "))
            .filter(|h| !h.starts_with('('))
            .map(|h| h.trim().to_string());
        let clean = !text.lines().any(|l| !l.starts_with('#') && !l.is_empty());
        Ok(Snapshot { head, clean, text })
    }

    /// Restores `paths` to their state at `start` (removing files that did not exist then).
    /// A path that is not valid UTF-8 (shown with U+FFFD) is matched against git's own bytes.
    pub fn revert_paths(&self, start: &str, paths: &[String]) -> Result<()> {
        let mut raw: Option<Vec<Vec<u8>>> = None;
        for p in paths {
            if !p.contains(char::REPLACEMENT_CHARACTER) {
                self.revert_path(start, p.as_bytes())?;
                continue;
            }
            if raw.is_none() {
                raw = Some(self.staged_paths(start)?);
            }
            for bytes in raw.iter().flatten() {
                if String::from_utf8_lossy(bytes) == p.as_str() {
                    self.revert_path(start, bytes)?;
                }
            }
        }
        Ok(())
    }

    fn revert_path(&self, start: &str, path: &[u8]) -> Result<()> {
        use std::os::unix::ffi::OsStrExt;
        // A nested repository (a folder the agent ran `git init` in) loses its `.git`, so what is
        // left is plain files.
        let rel = Path::new(std::ffi::OsStr::from_bytes(path));
        remove_nested_git(&self.dir, rel)?;
        let full = self.dir.join(rel);
        let spec = [start.as_bytes(), b":", path].concat();
        let existed = self.run_bytes(&[b"cat-file".as_slice(), b"-e", &spec])?.0;
        if existed {
            let (ok, _, err) =
                self.run_bytes(&[b"checkout".as_slice(), start.as_bytes(), b"--", path])?;
            if !ok {
                return Err(GitError::Command {
                    command: format!("checkout {start} -- {}", String::from_utf8_lossy(path)),
                    message: err,
                }
                .into());
            }
        } else {
            let _ = self.run_bytes(&[
                b"rm".as_slice(),
                b"--cached",
                b"--quiet",
                b"-f",
                b"--",
                path,
            ])?;
            if full.is_file() || full.is_symlink() {
                fs_err::remove_file(&full)?;
            }
        }
        Ok(())
    }

    /// Commits everything staged and unstaged with `message`; returns the new sha, or None when
    /// there was nothing to commit.
    pub fn commit_all(&self, message: &str) -> Result<Option<String>> {
        self.add_all()?;
        let mut args: Vec<&str> = Vec::new();
        let has_identity = *self.identity.get_or_init(|| {
            self.try_run(&["config", "user.email"])
                .map(|(ok, out, _)| ok && !out.trim().is_empty())
                .unwrap_or(false)
        });
        if !has_identity {
            // No identity configured: commit as orx rather than fail the run.
            args.extend(["-c", "user.name=orx", "-c", "user.email=orx@localhost"]);
        }
        args.extend(["commit", "--quiet", "--no-verify", "-m", message]);
        let (ok, _, err) = self.try_run(&args)?;
        if !ok {
            // `git commit` fails when there is nothing to commit: only then is it not an error.
            if self.try_run(&["diff", "--cached", "--quiet"])?.0 {
                return Ok(None);
            }
            return Err(GitError::Command {
                command: args.join(" "),
                message: err.trim().to_string(),
            }
            .into());
        }
        self.head().map(Some)
    }

    /// Keeps orx's folders out of git: `/runs/` and `/.worktrees/` in the repository's
    /// info/exclude, anchored at the root so a project's own `src/runs/` is not hidden. Entries
    /// an older orx wrote unanchored are mended.
    pub fn ensure_excluded(&self) -> Result<()> {
        let common = common_dir(&self.dir)?;
        let path = common.join("info").join("exclude");
        let current = match fs_err::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e.into()),
        };
        if let Some(text) = mend_excludes(&current) {
            fs_err::create_dir_all(common.join("info"))?;
            crate::fsutil::atomic_write(&path, text.as_bytes())?;
        }
        Ok(())
    }

    /// `git --version`, e.g. "2.47.3".
    pub fn version() -> Option<String> {
        let (ok, out, _) = Git::new(".").try_run(&["--version"]).ok()?;
        ok.then(|| out.trim().trim_start_matches("git version ").to_string())
    }

    /// Deletes a local branch.
    pub fn delete_branch(&self, branch: &str) -> Result<()> {
        self.run(&["branch", "-D", branch]).map(|_| ())
    }

    /// One-line subjects of the commits in `range`, oldest first.
    pub fn log_subjects(&self, range: &str) -> Result<Vec<String>> {
        Ok(self
            .run(&["log", "--reverse", "--format=%s", range])?
            .lines()
            .map(String::from)
            .collect())
    }
}

/// Removes the `.git` of a nested repository at `rel` under `root`; true when there was one.
/// Only a real folder is entered, never a symlink: a link to the user's checkout is not touched.
pub fn remove_nested_git(root: &Path, rel: &Path) -> Result<bool> {
    if rel.as_os_str().is_empty()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Ok(false);
    }
    let mut dir = root.to_path_buf();
    for c in rel.components() {
        dir.push(c);
        if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            return Ok(false);
        }
    }
    let nested = dir.join(".git");
    match std::fs::symlink_metadata(&nested) {
        Ok(m) if m.is_dir() => fs_err::remove_dir_all(&nested)?,
        Ok(_) => fs_err::remove_file(&nested)?,
        Err(_) => return Ok(false),
    }
    Ok(true)
}

/// The repository's common git folder (the main `.git`, shared by its worktrees), absolute.
/// Asked of git once per repository and process: a repository's common folder does not move
/// while orx runs (a dashboard that outlives a repository re-created with another layout at the
/// same path would keep the old answer; errors are not kept).
pub fn common_dir(repo: &Path) -> Result<PathBuf> {
    static KNOWN: std::sync::Mutex<Vec<(PathBuf, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let known =
        |k: &[(PathBuf, PathBuf)]| k.iter().find(|(r, _)| r == repo).map(|(_, c)| c.clone());
    if let Some(c) = known(&KNOWN.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(c);
    }
    let out = Git::new(repo).run(&["rev-parse", "--path-format=absolute", "--git-common-dir"])?;
    let common = PathBuf::from(out.trim());
    let mut k = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if known(&k).is_none() {
        k.push((repo.to_path_buf(), common.clone()));
    }
    Ok(common)
}

/// The header above orx's entries in info/exclude.
const EXCLUDE_HEADER: &str = "# orx run folders and worktrees";
/// orx's entries, and the unanchored form older versions wrote.
const EXCLUDES: [(&str, &str); 2] = [("/runs/", "runs/"), ("/.worktrees/", ".worktrees/")];

/// The info/exclude text with orx's anchored entries, or None when it needs no change. Only the
/// entries under orx's own header are mended: a `runs/` the user wrote elsewhere is theirs.
fn mend_excludes(current: &str) -> Option<String> {
    let mut lines: Vec<String> = current.lines().map(String::from).collect();
    let mut changed = false;
    let header = lines.iter().position(|l| l.trim() == EXCLUDE_HEADER);
    if let Some(h) = header {
        for l in lines.iter_mut().skip(h + 1) {
            let t = l.trim();
            if let Some((anchored, _)) = EXCLUDES.iter().find(|(_, old)| *old == t) {
                *l = anchored.to_string();
                changed = true;
            } else if !EXCLUDES.iter().any(|(anchored, _)| *anchored == t) {
                break;
            }
        }
    }
    let missing: Vec<String> = EXCLUDES
        .iter()
        .map(|(anchored, _)| anchored.to_string())
        .filter(|a| !lines.iter().any(|l| l.trim() == a))
        .collect();
    if !missing.is_empty() {
        changed = true;
        match header {
            Some(h) => {
                for (i, m) in missing.into_iter().enumerate() {
                    lines.insert(h + 1 + i, m);
                }
            }
            None => {
                lines.push(EXCLUDE_HEADER.to_string());
                lines.extend(missing);
            }
        }
    }
    changed.then(|| {
        let mut text = lines.join("\n");
        text.push('\n');
        text
    })
}

#[cfg(test)]
mod tests;
