//! Runs driven by local processes that outlive their caller: `orx run --detach` and the
//! dashboard's runs go on when the terminal or the dashboard closes.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{LaunchError, Launcher, ResumeSpec, RunSpec, START_WITHIN, wait_until_started};
use crate::cancel::CancelToken;
use crate::process::{ProcessSpec, Termination};

/// How to ask the driver program (the orx binary) to run, resume or cancel a run in the
/// foreground. The front end that owns the program's command line words it; core only starts
/// the process and watches the run folder.
pub trait DriverCommand: Send + Sync + std::fmt::Debug {
    /// The program.
    fn program(&self) -> &Path;
    /// The arguments that drive `spec`'s run, its task read from `task_file`.
    fn run_args(&self, spec: &RunSpec, task_file: &Path) -> Vec<OsString>;
    /// The arguments that resume a run.
    fn resume_args(&self, spec: &ResumeSpec) -> Vec<OsString>;
    /// The arguments that cancel a run and return.
    fn cancel_args(&self, repo: &Path, run_id: &str) -> Vec<OsString>;
}

/// Drives each run in a process of its own (its own process group), which outlives the caller.
#[derive(Clone, Debug)]
pub struct Detached {
    driver: Arc<dyn DriverCommand>,
    start_within: Duration,
}

/// How long a cancel may take: the driver stops its agent and writes the checkpoint first.
const CANCEL_WITHIN: Duration = Duration::from_secs(30);

impl Detached {
    /// A launcher that starts `driver`.
    pub fn new(driver: Arc<dyn DriverCommand>) -> Self {
        Self {
            driver,
            start_within: START_WITHIN,
        }
    }

    fn spec(&self, args: Vec<OsString>) -> ProcessSpec {
        ProcessSpec::new(self.driver.program().display().to_string(), args)
    }
}

/// The last lines of a driver's stderr, for the error that says why it ended.
fn tail(path: &Path) -> String {
    let text =
        crate::fsutil::read_text_capped(path, crate::fsutil::MAX_INPUT_FILE).unwrap_or_default();
    crate::fsutil::tail_lines(text.trim(), 5)
}

impl Launcher for Detached {
    fn start(&self, spec: &RunSpec) -> Result<(), LaunchError> {
        super::refuse_existing(spec)?;
        // The task travels in a private file, so any size and any text survive; it is removed
        // once the run has started (task.md is written before state.json).
        let mut task = tempfile::Builder::new()
            .prefix("orx-task-")
            .suffix(".md")
            .tempfile()?;
        task.write_all(spec.task.as_bytes())?;
        task.flush()?;
        let stderr = tempfile::Builder::new().prefix("orx-driver-").tempfile()?;
        let mut p = self.spec(self.driver.run_args(spec, task.path()));
        p.stderr_log = Some(stderr.path().to_path_buf());
        let mut child = crate::process::spawn_detached(&p).map_err(|e| match e {
            crate::Error::Spawn { program, source } => LaunchError::Spawn { program, source },
            e => LaunchError::Core(Box::new(e)),
        })?;
        let started = wait_until_started(spec, self.start_within, || {
            let status = child.try_wait().ok().flatten()?;
            Some(LaunchError::Ended {
                status: status.to_string(),
                message: tail(stderr.path()),
            })
        });
        // The driver goes on (a late one may still start): it is reaped when it ends, or
        // adopted by init if the caller ends first.
        std::thread::spawn(move || child.wait());
        started
    }

    fn resume(&self, spec: &ResumeSpec) -> Result<(), LaunchError> {
        if let Some(dir) = spec.log.as_ref().and_then(|l| l.parent()) {
            fs_err::create_dir_all(dir)?;
        }
        let mut p = self.spec(self.driver.resume_args(spec));
        p.stdout_log = spec.log.clone();
        p.stderr_log = spec.log.clone();
        let mut child = crate::process::spawn_detached(&p).map_err(|e| match e {
            crate::Error::Spawn { program, source } => LaunchError::Spawn { program, source },
            e => LaunchError::Core(Box::new(e)),
        })?;
        // Reaped when it ends; the run goes on if the caller stops first.
        std::thread::spawn(move || child.wait());
        Ok(())
    }

    fn cancel(&self, repo: &Path, run_id: &str) -> Result<(), LaunchError> {
        let mut p = self.spec(self.driver.cancel_args(repo, run_id));
        p.timeout = Some(CANCEL_WITHIN);
        let mut said = Vec::new();
        let out = crate::process::run(&p, &CancelToken::new(), &mut |_, line| {
            said.push(line.to_string());
        })
        .map_err(|e| match e {
            crate::Error::Spawn { program, source } => LaunchError::Spawn { program, source },
            e => LaunchError::Core(Box::new(e)),
        })?;
        match out.termination {
            Termination::Exited(0) => Ok(()),
            Termination::TimedOut => Err(LaunchError::NoAnswer {
                secs: CANCEL_WITHIN.as_secs(),
            }),
            _ => Err(LaunchError::Refused {
                message: said.join("\n").trim().to_string(),
            }),
        }
    }
}
