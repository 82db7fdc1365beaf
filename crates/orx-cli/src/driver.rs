//! The orx binary as the driver of detached runs: the command lines that make it run, resume
//! or cancel one run in the foreground. Core's detached launcher starts them; only this crate
//! knows orx's flags.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use orx_core::launch::{Detached, DriverCommand, ResumeSpec, RunSpec};

/// This orx binary, with the `--config` it was given.
#[derive(Debug)]
pub struct OrxDriver {
    exe: PathBuf,
    config: Option<PathBuf>,
}

impl OrxDriver {
    /// The running binary as a driver.
    pub fn current(config: Option<PathBuf>) -> std::io::Result<Self> {
        Ok(Self {
            exe: std::env::current_exe()?,
            config,
        })
    }

    /// A launcher that starts runs as detached processes of this binary.
    pub fn launcher(config: Option<PathBuf>) -> std::io::Result<Detached> {
        Ok(Detached::new(Arc::new(Self::current(config)?)))
    }

    /// `--dir REPO [--config FILE]`, which every command line starts with.
    fn common(&self, repo: &Path) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["--dir".into(), repo.into()];
        if let Some(c) = &self.config {
            a.extend(["--config".into(), c.into()]);
        }
        a
    }
}

impl DriverCommand for OrxDriver {
    fn program(&self) -> &Path {
        &self.exe
    }

    fn run_args(&self, spec: &RunSpec, task_file: &Path) -> Vec<OsString> {
        let mut a = self.common(&spec.repo);
        let mut task = OsString::from("@");
        task.push(task_file);
        a.extend([
            "--quiet".into(),
            "run".into(),
            task,
            "--run-id".into(),
            spec.run_id.clone().into(),
        ]);
        // `--flag=value` in one word: a value that starts with `-` stays a value.
        let mut flag = |name: &str, value: &str| a.push(format!("{name}={value}").into());
        if let Some(p) = &spec.pipeline {
            flag("--pipeline", p);
        }
        if let Some(e) = spec.overrides.engine {
            flag("--engine", e.name());
        }
        if let Some(m) = &spec.overrides.model {
            flag("--model", m);
        }
        if let Some(b) = &spec.base_branch {
            flag("--base-branch", b);
        }
        for (role, o) in &spec.overrides.stages {
            flag("--stage", &o.text(role));
        }
        if spec.include_dirty {
            a.push("--include-dirty".into());
        }
        if let Some(issue) = &spec.issue {
            flag_json(&mut a, "--linked-issue", issue);
        }
        if let Some(earlier) = &spec.follows {
            a.push(format!("--follows={earlier}").into());
        }
        a
    }

    fn resume_args(&self, spec: &ResumeSpec) -> Vec<OsString> {
        use orx_core::protocol::Continue;
        let mut a = self.common(&spec.repo);
        a.push("--quiet".into());
        match &spec.how {
            None => a.extend(["resume".into(), spec.run_id.clone().into()]),
            Some(Continue::Approve(raise)) => {
                a.extend(["approve".into(), spec.run_id.clone().into()]);
                if raise.usd > 0.0 {
                    a.extend(["--add-usd".into(), raise.usd.to_string().into()]);
                }
                if raise.tokens > 0 {
                    a.extend(["--add-tokens".into(), raise.tokens.to_string().into()]);
                }
            }
            Some(Continue::Reject(feedback)) => {
                // After `--`: feedback that starts with a dash is text, not a flag.
                a.extend([
                    "reject".into(),
                    spec.run_id.clone().into(),
                    "--".into(),
                    feedback.into(),
                ]);
            }
        }
        a
    }

    fn cancel_args(&self, repo: &Path, run_id: &str) -> Vec<OsString> {
        let mut a = self.common(repo);
        a.extend(["cancel".into(), run_id.into()]);
        a
    }
}

/// `--flag=JSON` for a value the driver reads back whole.
fn flag_json(a: &mut Vec<OsString>, name: &str, value: &impl serde::Serialize) {
    let json = serde_json::to_string(value).unwrap_or_default();
    a.push(format!("{name}={json}").into());
}
