//! Runs driven on threads of this process: for embedding orx (tests, tools) where the caller
//! lives as long as its runs.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::cancel::CancelToken;
use crate::config::LoadedConfig;
use crate::launch::{LaunchError, Launcher, ResumeSpec, RunSpec, START_WITHIN, wait_until_started};
use crate::pipeline::{Engine, ResumeRequest, RunOutcome, RunRequest};

/// Drives each run on its own thread of this process, with one configuration.
#[derive(Debug)]
pub struct InProcess {
    config: LoadedConfig,
    runs: Mutex<HashMap<String, Driven>>,
}

#[derive(Debug)]
struct Driven {
    cancel: CancelToken,
    thread: JoinHandle<crate::Result<RunOutcome>>,
}

impl InProcess {
    /// A launcher whose runs use `config`.
    pub fn new(config: LoadedConfig) -> Self {
        Self {
            config,
            runs: Mutex::default(),
        }
    }

    /// Waits for run `id`'s driver thread (None when this launcher does not drive it).
    pub fn join(&self, id: &str) -> Option<crate::Result<RunOutcome>> {
        let driven = self.lock().remove(id)?;
        Some(driven.thread.join().unwrap_or_else(|_| {
            Err(crate::Error::Io(std::io::Error::other(
                "the run's thread panicked",
            )))
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Driven>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drives `work` on a new thread named after the run; the channel says when it ended.
    fn drive(
        &self,
        id: &str,
        work: impl FnOnce(CancelToken) -> crate::Result<RunOutcome> + Send + 'static,
    ) -> Result<mpsc::Receiver<String>, LaunchError> {
        if self.lock().get(id).is_some_and(|d| !d.thread.is_finished()) {
            return Err(LaunchError::Refused {
                message: format!("run {id} is already driven here"),
            });
        }
        let cancel = CancelToken::new();
        let (done, ended) = mpsc::channel();
        let token = cancel.clone();
        let thread = std::thread::Builder::new()
            .name(format!("orx-run-{id}"))
            .spawn(move || {
                let outcome = work(token);
                let _ = done.send(match &outcome {
                    Ok(o) => format!("{:?}", o.status),
                    Err(e) => e.to_string(),
                });
                outcome
            })?;
        self.lock()
            .insert(id.to_string(), Driven { cancel, thread });
        Ok(ended)
    }
}

impl Launcher for InProcess {
    fn start(&self, spec: &RunSpec) -> Result<(), LaunchError> {
        let req = RunRequest {
            dir: spec.repo.clone(),
            task: spec.task.clone(),
            config: self.config.clone(),
            overrides: spec.overrides.clone(),
            pipeline: spec.pipeline.clone().unwrap_or_else(|| "standard".into()),
            base_branch: spec.base_branch.clone(),
            run_id: Some(spec.run_id.clone()),
            include_dirty: spec.include_dirty,
            issue: spec.issue.clone(),
            follows: spec.follows.clone(),
        };
        crate::launch::refuse_existing(spec)?;
        let ended = self.drive(&spec.run_id, move |cancel| Engine::new(cancel).start(req))?;
        wait_until_started(spec, START_WITHIN, || match ended.try_recv() {
            Ok(message) => Some(LaunchError::Ended {
                status: "its thread returned".into(),
                message,
            }),
            Err(mpsc::TryRecvError::Disconnected) => Some(LaunchError::Ended {
                status: "its thread panicked".into(),
                message: String::new(),
            }),
            Err(mpsc::TryRecvError::Empty) => None,
        })
    }

    fn resume(&self, spec: &ResumeSpec) -> Result<(), LaunchError> {
        let req = ResumeRequest {
            dir: spec.repo.clone(),
            run_id: spec.run_id.clone(),
            config: self.config.clone(),
            from: None,
            raise: match &spec.how {
                Some(crate::protocol::Continue::Approve(raise)) => *raise,
                _ => Default::default(),
            },
            decision: match &spec.how {
                Some(crate::protocol::Continue::Approve(_)) => {
                    Some(crate::protocol::Decision::Approve)
                }
                Some(crate::protocol::Continue::Reject(f)) => {
                    Some(crate::protocol::Decision::Reject(f.clone()))
                }
                None => None,
            },
        };
        self.drive(&spec.run_id, move |cancel| Engine::new(cancel).resume(req))?;
        Ok(())
    }

    fn cancel(&self, _repo: &Path, run_id: &str) -> Result<(), LaunchError> {
        match self.lock().get(run_id) {
            Some(d) => {
                d.cancel.cancel();
                Ok(())
            }
            None => Err(LaunchError::NotHere {
                id: run_id.to_string(),
            }),
        }
    }
}
