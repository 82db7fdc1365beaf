//! The git CLI wrapper: repository checks, worktrees, diffs, commits, push. Every command is
//! logged to the run's logs/git.log when a log is set.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::cancel::CancelToken;
use crate::process::{ProcessSpec, Stream, run};
use crate::{Error, Result};

/// Change statistics of a diff.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DiffStats {
    /// Files changed.
    pub files: usize,
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
}

/// What a worktree changed against a commit, read with one `git diff`: the patch, its
/// statistics and the paths it touches (both sides of a rename).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// The binary-safe patch (`git diff --binary`).
    pub patch: String,
    /// Files changed and lines added/removed.
    pub stats: DiffStats,
    /// Every path added, modified or deleted; a rename gives both its old and its new path.
    pub paths: Vec<String>,
}

impl Changes {
    /// Splits the output of `git diff --numstat -z --patch`: NUL-terminated numstat records
    /// (`added\tremoved\tpath`, or `added\tremoved\t` then the old and the new path for a
    /// rename), an empty record, then the patch.
    pub fn parse(out: &str) -> Changes {
        let mut c = Changes::default();
        let mut rest = out;
        // No terminator at all: no changes (git prints nothing), or a cut output.
        while let Some(end) = rest.find('\0') {
            let record = &rest[..end];
            rest = &rest[end + 1..];
            if record.is_empty() {
                c.patch = rest.to_string();
                break;
            }
            let mut parts = record.splitn(3, '\t');
            let added = parts.next().and_then(|x| x.parse::<usize>().ok());
            let removed = parts.next().and_then(|x| x.parse::<usize>().ok());
            let path = parts.next().unwrap_or_default();
            c.stats.files += 1;
            c.stats.added = c.stats.added.saturating_add(added.unwrap_or(0));
            c.stats.removed = c.stats.removed.saturating_add(removed.unwrap_or(0));
            if path.is_empty() {
                // A rename or copy: the old path, then the new one.
                for _ in 0..2 {
                    let Some(end) = rest.find('\0') else { break };
                    c.paths.push(rest[..end].to_string());
                    rest = &rest[end + 1..];
                }
            } else {
                c.paths.push(path.to_string());
            }
        }
        c
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.stats.files == 0 && self.patch.trim().is_empty()
    }
}

/// HEAD and the worktree's status at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The sha of HEAD (None before the first commit).
    pub head: Option<String>,
    /// True when no file is changed or untracked.
    pub clean: bool,
    /// The whole `git status --porcelain=v2 --branch` output, compared as a whole.
    pub text: String,
}

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
}

impl Git {
    /// Git commands run in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            log: None,
            redactor: None,
            timeout: Duration::from_secs(300),
            identity: Arc::default(),
        }
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

    /// A runner for another directory with the same log.
    pub fn at(&self, dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            log: self.log.clone(),
            redactor: self.redactor.clone(),
            timeout: self.timeout,
            identity: Arc::clone(&self.identity),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs git with `args`; returns stdout, or an error with stderr.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let (ok, out, err) = self.try_run(args)?;
        if ok {
            Ok(out)
        } else {
            Err(Error::Git {
                command: args.join(" "),
                message: err.trim().to_string(),
            })
        }
    }

    /// Runs git; returns (success, stdout, stderr) without turning failure into an error.
    pub fn try_run(&self, args: &[&str]) -> Result<(bool, String, String)> {
        self.try_run_env(args, &[])
    }

    /// The worktree's changes against `base` (committed, staged, unstaged, untracked) without
    /// touching its index: a private index is used, so a running run is not disturbed.
    pub fn diff_readonly(&self, base: &str) -> Result<String> {
        let tmp = tempfile::Builder::new().prefix("orx-index-").tempdir()?;
        let index = tmp.path().join("index");
        let index = index.display().to_string();
        let env = [("GIT_INDEX_FILE", index.as_str())];
        let check = |r: (bool, String, String), what: &str| -> Result<String> {
            if r.0 {
                Ok(r.1)
            } else {
                Err(Error::Git {
                    command: what.into(),
                    message: r.2.trim().to_string(),
                })
            }
        };
        check(
            self.try_run_env(&["read-tree", "HEAD"], &env)?,
            "read-tree HEAD",
        )?;
        check(self.try_run_env(&["add", "-A"], &env)?, "add -A")?;
        check(
            self.try_run_env(
                &[
                    "diff",
                    "--cached",
                    "--no-color",
                    "--no-ext-diff",
                    "--binary",
                    base,
                ],
                &env,
            )?,
            "diff --cached",
        )
    }

    fn try_run_env(
        &self,
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> Result<(bool, String, String)> {
        let mut spec = ProcessSpec::new("git", args.iter().copied());
        spec.cwd = Some(self.dir.clone());
        spec.timeout = Some(self.timeout);
        // A diff of a minified file has lines of megabytes: git's output is read whole.
        spec.whole_lines = true;
        spec.env = GIT_ENV
            .iter()
            .chain(extra_env)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (mut out, mut err) = (String::new(), String::new());
        let res = run(&spec, &CancelToken::new(), &mut |s, l| {
            let b = if s == Stream::Stdout {
                &mut out
            } else {
                &mut err
            };
            b.push_str(l);
            b.push('\n');
        })
        .map_err(|e| match e {
            Error::Spawn { .. } => Error::repo(
                "git is not installed or not on PATH",
                "install git (orx drives the git command-line tool)",
            ),
            other => other,
        })?;
        if self.log.is_some() {
            let line = format!(
                "$ git {} # in {} -> {:?} ({} ms){}",
                args.join(" "),
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
        Ok((res.success(), out, err))
    }

    /// The top level of the repository containing `dir`.
    pub fn toplevel(dir: &Path) -> Result<PathBuf> {
        let (ok, out, _) = Git::new(dir).try_run(&["rev-parse", "--show-toplevel"])?;
        if !ok {
            return Err(Error::repo(
                format!("{} is not inside a git repository", dir.display()),
                "run orx at the root of a git repository (or `git init` first), or pass --dir",
            ));
        }
        let top = out.trim();
        if top.contains(char::REPLACEMENT_CHARACTER) {
            // Run folders record paths as UTF-8 text (state.json, meta.json).
            return Err(Error::repo(
                format!("the repository's path is not valid UTF-8 ({top})"),
                "orx records paths as UTF-8: move or rename the repository's folder to a UTF-8 name",
            ));
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
            return Err(Error::repo(
                "the repository has no commit yet",
                "make a first commit (git add -A && git commit -m init), then run orx again",
            ));
        }
        Err(Error::repo(
            format!("the base branch `{base}` does not exist"),
            "pass --base-branch with an existing branch, or set git.base_branch in orx.yaml",
        ))
    }

    /// Adds the worktree `path` on `branch`, creating the branch from `base` unless it exists
    /// (a resumed run whose worktree was removed gets its branch back).
    pub fn worktree_add(&self, path: &Path, branch: &str, base: &str) -> Result<()> {
        let p = path.display().to_string();
        // Concurrent runs add worktrees at the same instant: git may meet another's ref lock
        // or its half-made administrative folder (`failed to read .git/worktrees/<id>/...`).
        // Such failures are retried briefly; a failed try may have created the branch already,
        // so each try asks whether the branch exists.
        let mut last = None;
        for i in 0..5 {
            let exists = self.resolve(&format!("refs/heads/{branch}"))?.is_some();
            let args: Vec<&str> = if exists {
                vec!["worktree", "add", "--quiet", &p, branch]
            } else {
                vec!["worktree", "add", "--quiet", "-b", branch, &p, base]
            };
            match self.run(&args) {
                Ok(_) => return Ok(()),
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
        Err(last.unwrap_or_else(|| Error::repo("git worktree add failed", "retry the run")))
    }

    /// `git worktree remove --force <path>` then `git worktree prune`.
    pub fn worktree_remove(&self, path: &Path) -> Result<()> {
        let p = path.display().to_string();
        if path.exists() {
            let (ok, _, err) = self.try_run(&["worktree", "remove", "--force", &p])?;
            if !ok && path.exists() {
                return Err(Error::Git {
                    command: format!("worktree remove {p}"),
                    message: err,
                });
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

    /// Everything the worktree changed against `start` (staged, committed, unstaged, untracked)
    /// in two commands: `add -A`, then one diff giving the patch, the statistics and the paths.
    pub fn changes(&self, start: &str) -> Result<Changes> {
        self.add_all()?;
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
            return Err(Error::Git {
                command: format!("diff --cached --name-only {start}"),
                message: err,
            });
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
        let spec = [start.as_bytes(), b":", path].concat();
        let existed = self.run_bytes(&[b"cat-file".as_slice(), b"-e", &spec])?.0;
        if existed {
            let (ok, _, err) =
                self.run_bytes(&[b"checkout".as_slice(), start.as_bytes(), b"--", path])?;
            if !ok {
                return Err(Error::Git {
                    command: format!("checkout {start} -- {}", String::from_utf8_lossy(path)),
                    message: err,
                });
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
            let full = self.dir.join(std::ffi::OsStr::from_bytes(path));
            if full.is_file() || full.is_symlink() {
                fs_err::remove_file(&full)?;
            }
        }
        Ok(())
    }

    /// Runs git with arguments that may not be UTF-8 (paths as git gave them); returns
    /// (success, stdout bytes, stderr). For short local commands: no timeout, no streaming.
    fn run_bytes(&self, args: &[&[u8]]) -> Result<(bool, Vec<u8>, String)> {
        use std::os::unix::ffi::OsStrExt;
        let started = std::time::Instant::now();
        let out = std::process::Command::new("git")
            .args(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)))
            .current_dir(&self.dir)
            .envs(GIT_ENV)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|source| Error::Spawn {
                program: "git".into(),
                source,
            })?;
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if self.log.is_some() {
            let shown: Vec<String> = args
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let line = format!(
                "$ git {} # in {} -> {:?} ({} ms){}",
                shown.join(" "),
                self.dir.display(),
                out.status.code(),
                started.elapsed().as_millis(),
                if out.status.success() || err.is_empty() {
                    String::new()
                } else {
                    format!("\n{err}")
                }
            );
            self.log_line(&line);
        }
        Ok((out.status.success(), out.stdout, err))
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
            return Err(Error::Git {
                command: args.join(" "),
                message: err.trim().to_string(),
            });
        }
        self.head().map(Some)
    }

    /// Adds `runs/` and `.worktrees/` to the repository's info/exclude when missing.
    pub fn ensure_excluded(&self) -> Result<()> {
        let common = self.run(&["rev-parse", "--git-common-dir"])?;
        let common = self.dir.join(common.trim());
        let path = common.join("info").join("exclude");
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        let mut add = String::new();
        for entry in ["runs/", ".worktrees/"] {
            if !current.lines().any(|l| l.trim() == entry) {
                add.push_str(entry);
                add.push('\n');
            }
        }
        if !add.is_empty() {
            fs_err::create_dir_all(common.join("info"))?;
            let mut text = current;
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("# orx run folders and worktrees\n");
            text.push_str(&add);
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

#[cfg(test)]
mod tests;
