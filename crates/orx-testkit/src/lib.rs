//! Test support for orx: temporary git repositories with a fixed, isolated git identity, a
//! command builder for the orx binary, and readers for run folders.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

pub mod github;
pub mod http;
pub mod mock;
pub mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use orx_core::run::{Meta, RunState};

/// Environment that isolates git from the machine's config and fixes the identity.
pub const GIT_ENV: [(&str, &str); 8] = [
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_AUTHOR_NAME", "orx test"),
    ("GIT_AUTHOR_EMAIL", "test@orx.invalid"),
    ("GIT_COMMITTER_NAME", "orx test"),
    ("GIT_COMMITTER_EMAIL", "test@orx.invalid"),
    ("GIT_TERMINAL_PROMPT", "0"),
    ("NO_COLOR", "1"),
];

/// A temporary git repository with one commit on `main`.
pub struct TestRepo {
    dir: tempfile::TempDir,
    /// A folder beside the repository for scenario files and other inputs.
    pub aux: tempfile::TempDir,
}

impl TestRepo {
    /// A repository with `files` committed on `main`.
    pub fn new(files: &[(&str, &str)]) -> Self {
        let repo = Self::empty();
        for (p, t) in files {
            repo.write(p, t);
        }
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "init"]);
        repo
    }

    /// A repository with no commit.
    pub fn empty() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("orx-test-")
            .tempdir()
            .unwrap();
        let aux = tempfile::Builder::new()
            .prefix("orx-aux-")
            .tempdir()
            .unwrap();
        let repo = Self { dir, aux };
        repo.git(&["init", "-q", "--initial-branch=main"]);
        repo
    }

    /// The repository root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file in the repository (creating folders).
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Writes a file in the aux folder and returns its path.
    pub fn aux_file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.aux.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs git in the repository; panics on failure; returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    /// A command for the orx binary at `bin`, run in the repository with the isolated env.
    pub fn orx(&self, bin: &Path) -> Command {
        let mut c = Command::new(bin);
        c.current_dir(self.path());
        for (k, v) in GIT_ENV {
            c.env(k, v);
        }
        c.env_remove("ORX_CONFIG").env_remove("ORX_DIR");
        // Times are shown in the local zone: the same one on every machine.
        c.env("TZ", "UTC");
        c
    }

    /// The run ids in runs/, oldest first (hidden folders such as a half-made run are not runs).
    pub fn run_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.path().join("runs"))
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str().map(String::from))
                    .filter(|n| orx_core::run::is_valid_run_id(n))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// The only run id (panics when there is not exactly one).
    pub fn single_run(&self) -> String {
        let ids = self.run_ids();
        assert_eq!(ids.len(), 1, "expected one run, found {ids:?}");
        ids[0].clone()
    }

    /// The run folder of `id`.
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.path().join("runs").join(id)
    }

    /// state.json of `id`.
    pub fn state(&self, id: &str) -> RunState {
        RunState::load(&self.run_dir(id).join("state.json")).unwrap()
    }

    /// meta.json of `id`.
    pub fn meta(&self, id: &str) -> Meta {
        Meta::load(&self.run_dir(id).join("meta.json")).unwrap()
    }

    /// A file of the run folder as text.
    pub fn run_file(&self, id: &str, rel: &str) -> String {
        let p = self.run_dir(id).join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }
}

/// Runs git in `dir` with the isolated env; panics on failure; returns stdout.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let mut c = Command::new("git");
    c.args(args).current_dir(dir);
    for (k, v) in GIT_ENV {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// stdout + stderr of an output, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What a user reads of a command: its exit code, stdout and stderr together, normalized
/// (see [`normalize_table`]) for an inline snapshot. An empty stream is left out.
pub fn human(out: &Output, repo: &Path) -> String {
    human_streams(out, repo, true)
}

/// [`human`] without stdout: for a run whose progress lines other snapshots cover, what it
/// says on stderr (its errors and warnings).
pub fn human_stderr(out: &Output, repo: &Path) -> String {
    human_streams(out, repo, false)
}

fn human_streams(out: &Output, repo: &Path, with_stdout: bool) -> String {
    let mut s = format!("exit {}", out.status.code().unwrap_or(-1));
    let stdout: &[u8] = if with_stdout { &out.stdout } else { &[] };
    for (name, bytes) in [("stdout", stdout), ("stderr", &out.stderr[..])] {
        let text = String::from_utf8_lossy(bytes);
        if !text.trim().is_empty() {
            s.push_str(&format!(
                "\n--- {name}\n{}",
                normalize_table(text.trim_end(), repo)
            ));
        }
    }
    s
}

/// Replaces run ids, temp paths, times and durations with stable placeholders for snapshots.
pub fn normalize(text: &str, repo: &Path) -> String {
    let mut s = text.replace(&repo.display().to_string(), "[REPO]");
    let re_id = regex_lite(r"\d{8}_\d{6}_[0-9a-f]{8}");
    s = re_id.replace_all(&s, "[RUN_ID]").to_string();
    let re_ts = regex_lite(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?Z?");
    s = re_ts.replace_all(&s, "[TIME]").to_string();
    let re_clock = regex_lite(r"(?m)^\d{2}:\d{2}:\d{2} ");
    s = re_clock.replace_all(&s, "[HH:MM:SS] ").to_string();
    let re_dur = regex_lite(r"\b\d+(\.\d+)?s\b");
    s = re_dur.replace_all(&s, "[DUR]").to_string();
    let re_sha = regex_lite(r"\b[0-9a-f]{10,40}\b");
    re_sha.replace_all(&s, "[SHA]").to_string()
}

/// [`normalize`] for tables whose column widths depend on the values it replaces (durations):
/// runs of padding become two spaces.
pub fn normalize_table(text: &str, repo: &Path) -> String {
    let s = normalize(text, repo);
    // Token counts follow the prompts' length, which follows the temporary paths in them.
    let re_tokens = regex_lite(r"\d+ in \(\d+ cached\), \d+ out");
    let s = re_tokens
        .replace_all(&s, "[N] in ([N] cached), [N] out")
        .to_string();
    let re_tokens_short = regex_lite(r"\b\d+ in, \d+ out\b");
    let s = re_tokens_short
        .replace_all(&s, "[N] in, [N] out")
        .to_string();
    let re_pad = regex_lite(r"([^ \n]) {2,}");
    re_pad.replace_all(&s, "$1  ").to_string()
}

fn regex_lite(p: &str) -> regex::Regex {
    regex::Regex::new(p).unwrap()
}
