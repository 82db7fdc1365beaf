//! Starting, queueing, cancelling and resuming runs, always through the `orx` binary.
//!
//! A start request gets its run id at once and is written to `runs/.dashboard/queue/<id>.json`;
//! the dispatcher starts queued runs (`orx run --detach --run-id <id>`) while fewer than
//! `max_concurrent_runs` are running. The queue is on disk, so it survives a dashboard restart,
//! and the runs are their own processes, so they survive it too.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use orx_core::config::{ExecutorKind, StageOverride};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::{Options, Shared};

/// What the new-run form and `POST /api/runs` send.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The task text.
    pub task: String,
    /// The repository (must be the one this dashboard serves; empty: that one).
    #[serde(default)]
    pub repo: Option<String>,
    /// The executor for every stage.
    #[serde(default)]
    pub engine: Option<String>,
    /// The model for every stage.
    #[serde(default)]
    pub model: Option<String>,
    /// The branch to start from.
    #[serde(default)]
    pub base_branch: Option<String>,
    /// The pipeline.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Per-role overrides, `ROLE=EXECUTOR[:MODEL]`.
    #[serde(default)]
    pub stages: Vec<String>,
}

/// A queued start, as saved on disk.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Queued {
    /// The run id chosen when it was queued.
    pub run_id: String,
    /// When.
    pub queued_at: String,
    /// The request.
    pub request: StartRequest,
    /// Why starting it failed, once it did.
    #[serde(default)]
    pub error: Option<String>,
}

/// A refused request: what is wrong and how to fix it.
#[derive(Debug)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// What is wrong.
    pub message: String,
    /// The fix.
    pub fix: String,
}

fn refusal(status: u16, message: impl Into<String>, fix: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
        fix: fix.into(),
    }
}

/// The launcher.
#[derive(Debug)]
pub struct Launcher {
    repo: PathBuf,
    queue_dir: PathBuf,
    orx_bin: PathBuf,
    config: Option<PathBuf>,
    max: usize,
    wake: Notify,
    /// Runs started here and not yet seen running by the index (they count against the limit).
    starting: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

fn optional(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Values that reach the orx command line must not look like flags.
fn plain(field: &str, v: &str) -> Result<(), Refusal> {
    if v.starts_with('-') || v.chars().any(|c| c.is_control()) || v.len() > 200 {
        return Err(refusal(
            400,
            format!("`{field}` has an invalid value"),
            format!("{field} may not start with `-` or hold control characters"),
        ));
    }
    Ok(())
}

/// What a pipeline from the dashboard may be: the id of a built-in or repository pipeline
/// (`.orx/pipelines/<id>.yaml`), or a relative path to a file inside the repository. Anything
/// else (an absolute path, `..`, a file outside) is refused without reading it. Returns the
/// argument for `orx run --pipeline` (a file as its absolute path: the run's working folder is
/// the dashboard's).
fn pipeline_arg(repo: &Path, p: &str) -> Result<String, Refusal> {
    let refused = || {
        refusal(
            400,
            "`pipeline` must be a pipeline id or a file inside the repository",
            "choose standard, fast_fix, plan_only, an id from .orx/pipelines/, or a path \
             relative to the repository",
        )
    };
    let is_id = !p.contains('/') && !p.ends_with(".yaml") && !p.ends_with(".yml");
    if is_id {
        let known = orx_core::pipeline::PipelineDef::builtins()
            .iter()
            .any(|d| d.id == p)
            || ["yaml", "yml"].iter().any(|ext| {
                repo.join(".orx/pipelines")
                    .join(format!("{p}.{ext}"))
                    .is_file()
            });
        let plain_id = p
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        return if known && plain_id {
            Ok(p.to_string())
        } else {
            Err(refusal(
                400,
                format!("no pipeline `{p}`"),
                "choose standard, fast_fix, plan_only, or an id from .orx/pipelines/",
            ))
        };
    }
    let rel = Path::new(p);
    if rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(refused());
    }
    let root = repo.canonicalize().map_err(|_| refused())?;
    let full = root.join(rel).canonicalize().map_err(|_| refused())?;
    if !full.starts_with(&root) || !full.is_file() {
        return Err(refused());
    }
    Ok(full.display().to_string())
}

impl Launcher {
    /// A launcher for the repository of `opts`.
    pub fn new(opts: &Options) -> Self {
        Self {
            repo: opts.repo.clone(),
            queue_dir: opts.repo.join("runs").join(".dashboard").join("queue"),
            orx_bin: opts.orx_bin.clone(),
            config: opts.config.clone(),
            max: opts.max_concurrent_runs.max(1),
            wake: Notify::new(),
            starting: Default::default(),
        }
    }

    /// Puts back starts that an earlier dashboard was in the middle of when it stopped (the
    /// dispatcher then sees whether the run exists).
    pub fn recover(&self) {
        for e in std::fs::read_dir(&self.queue_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "starting") {
                let _ = std::fs::rename(&p, p.with_extension("json"));
            }
        }
    }

    /// Runs at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Checks a request before it is queued.
    pub fn validate(&self, req: &StartRequest) -> Result<(), Refusal> {
        if req.task.trim().is_empty() {
            return Err(refusal(
                400,
                "the task is empty",
                "describe what the agents should do",
            ));
        }
        if req.task.len() > 1_000_000 {
            return Err(refusal(413, "the task is over 1 MB", "shorten the task"));
        }
        if let Some(repo) = optional(&req.repo) {
            let same = Path::new(repo)
                .canonicalize()
                .ok()
                .zip(self.repo.canonicalize().ok())
                .is_some_and(|(a, b)| a == b);
            if !same {
                return Err(refusal(
                    400,
                    format!("this dashboard serves {}, not {repo}", self.repo.display()),
                    format!("run `orx dashboard --dir {repo}` to start runs there"),
                ));
            }
        }
        if let Some(e) = optional(&req.engine)
            && ExecutorKind::parse(e).is_none()
        {
            return Err(refusal(
                400,
                format!("unknown engine `{e}`"),
                "engines: codex, gemini, claude, cursor, copilot, fake",
            ));
        }
        for (field, v) in [
            ("model", optional(&req.model)),
            ("base_branch", optional(&req.base_branch)),
            ("pipeline", optional(&req.pipeline)),
        ] {
            if let Some(v) = v {
                plain(field, v)?;
            }
        }
        if let Some(p) = optional(&req.pipeline) {
            pipeline_arg(&self.repo, p)?;
        }
        for s in &req.stages {
            StageOverride::parse(s).map_err(|e| {
                refusal(
                    400,
                    format!("stage override: {e}"),
                    "write ROLE=EXECUTOR[:MODEL]",
                )
            })?;
        }
        Ok(())
    }

    /// Queues a start; returns the run id it will have.
    pub fn enqueue(&self, req: StartRequest) -> Result<String, Refusal> {
        self.validate(&req)?;
        let id = orx_core::run::new_run_id().to_string();
        let q = Queued {
            run_id: id.clone(),
            queued_at: orx_core::run::now_rfc3339(),
            request: req,
            error: None,
        };
        let io = |e: orx_core::Error| {
            refusal(
                500,
                format!("could not queue the run: {e}"),
                format!("check that {} is writable", self.queue_dir.display()),
            )
        };
        fs_err::create_dir_all(&self.queue_dir).map_err(|e| io(e.into()))?;
        orx_core::fsutil::atomic_write_json(&self.entry(&id), &q).map_err(io)?;
        self.wake.notify_one();
        Ok(id)
    }

    fn entry(&self, id: &str) -> PathBuf {
        self.queue_dir.join(format!("{id}.json"))
    }

    /// The queue entry of `id`, if it is (still) queued or failed to start.
    pub fn queued(&self, id: &str) -> Option<Queued> {
        if !orx_core::run::is_valid_run_id(id) {
            return None;
        }
        orx_core::fsutil::read_json(&self.entry(id))
            .or_else(|_| orx_core::fsutil::read_json(&self.claimed(id)))
            .ok()
    }

    /// Every queue entry, oldest first.
    pub fn queue(&self) -> Vec<Queued> {
        let mut out: Vec<Queued> = std::fs::read_dir(&self.queue_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let file = e.file_name();
                let file = file.to_str()?;
                let name = file
                    .strip_suffix(".json")
                    .or_else(|| file.strip_suffix(".starting"))?;
                self.queued(name)
            })
            .collect();
        out.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        out
    }

    /// Drops a queued start (cancel before it ran). True when there was one.
    pub fn dequeue(&self, id: &str) -> bool {
        self.queued(id).is_some() && std::fs::remove_file(self.entry(id)).is_ok()
    }

    fn claimed(&self, id: &str) -> PathBuf {
        self.queue_dir.join(format!("{id}.starting"))
    }

    /// True while the dispatcher is starting `id`.
    pub fn is_starting(&self, id: &str) -> bool {
        self.claimed(id).exists()
    }

    /// Runs this dashboard started that the index has not yet seen running (forgotten after 60 s).
    fn pending_starts(&self, state: &crate::AppState) -> usize {
        let mut map = self.starting.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|id, at| {
            at.elapsed() < Duration::from_secs(60)
                && state
                    .index
                    .row(id)
                    .is_none_or(|r| r.status == orx_core::protocol::Observed::Interrupted)
        });
        map.len()
    }

    fn orx(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.orx_bin);
        cmd.arg("--dir").arg(&self.repo);
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Starts one queued run and waits until its folder exists (`orx run --detach` returns then).
    async fn start(&self, q: &Queued) -> Result<(), String> {
        let task_file = self.queue_dir.join(format!("{}.task.md", q.run_id));
        fs_err::write(&task_file, &q.request.task).map_err(|e| e.to_string())?;
        let r = &q.request;
        let mut cmd = self.orx();
        cmd.arg("--quiet")
            .arg("run")
            .arg(format!("@{}", task_file.display()))
            .arg("--detach")
            .arg("--run-id")
            .arg(&q.run_id);
        if let Some(e) = optional(&r.engine) {
            cmd.arg("--engine").arg(e);
        }
        if let Some(m) = optional(&r.model) {
            cmd.arg("--model").arg(m);
        }
        if let Some(b) = optional(&r.base_branch) {
            cmd.arg("--base-branch").arg(b);
        }
        if let Some(p) = optional(&r.pipeline) {
            cmd.arg("--pipeline")
                .arg(pipeline_arg(&self.repo, p).map_err(|r| r.message)?);
        }
        for s in &r.stages {
            cmd.arg("--stage").arg(s);
        }
        // On a timeout the waiting `orx run --detach` is killed (the run, if it started, is in its
        // own process group and goes on).
        cmd.kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(60), cmd.output()).await;
        let _ = std::fs::remove_file(&task_file);
        match out {
            Ok(Ok(o)) if o.status.success() => Ok(()),
            Ok(Ok(o)) => Err(crate::redact(String::from_utf8_lossy(&o.stderr).trim())),
            Ok(Err(e)) => Err(format!("could not run {}: {e}", self.orx_bin.display())),
            Err(_) => Err("orx run --detach did not return within 60 s".into()),
        }
    }

    /// Cancels a run: drops it from the queue, or runs `orx cancel`.
    pub async fn cancel(&self, id: &str) -> Result<String, Refusal> {
        // While its start is in flight a run can only be cancelled once it holds its lock (the
        // run folder and the process exist): a moment after `orx run --detach` makes the folder.
        let locked = orx_core::run::is_valid_run_id(id)
            && self.repo.join("runs").join(id).join("orx.lock").exists();
        if self.is_starting(id) && !locked {
            return Err(refusal(
                409,
                format!("run {id} is starting"),
                "cancel it in a moment, once it runs",
            ));
        }
        if self.dequeue(id) {
            self.wake.notify_one();
            return Ok("removed from the queue".into());
        }
        let out = tokio::time::timeout(
            Duration::from_secs(30),
            self.orx().arg("cancel").arg(id).output(),
        )
        .await;
        match out {
            Ok(Ok(o)) if o.status.success() => Ok("cancelled".into()),
            Ok(Ok(o)) => Err(refusal(
                409,
                crate::redact(String::from_utf8_lossy(&o.stderr).trim()),
                "refresh the page to see the run's status",
            )),
            Ok(Err(e)) => Err(refusal(
                500,
                format!("could not run orx: {e}"),
                "check the orx binary",
            )),
            Err(_) => Err(refusal(
                504,
                "orx cancel did not return within 30 s",
                "try again",
            )),
        }
    }

    /// Resumes a run in the background (`orx resume`, its own process group, its output in
    /// `logs/dashboard_resume.log`).
    pub fn resume(&self, id: &str, status: orx_core::protocol::Observed) -> Result<(), Refusal> {
        if !status.is_resumable() {
            return Err(refusal(
                409,
                format!("run {id} is {status}; only failed, cancelled or interrupted runs resume"),
                "wait for the run to stop, or cancel it first",
            ));
        }
        let log = self
            .repo
            .join("runs")
            .join(id)
            .join("logs")
            .join("dashboard_resume.log");
        if let Some(dir) = log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| {
                refusal(
                    500,
                    format!("cannot write {}: {e}", log.display()),
                    "check permissions",
                )
            })?;
        let err = file
            .try_clone()
            .map_err(|e| refusal(500, e.to_string(), "check permissions"))?;
        let mut cmd = self.orx();
        cmd.arg("--quiet")
            .arg("resume")
            .arg(id)
            .stdout(file)
            .stderr(err)
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| {
            refusal(
                500,
                format!("could not run orx: {e}"),
                "check the orx binary",
            )
        })?;
        // Reap it when it ends; the run goes on if the dashboard stops first.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Ok(())
    }
}

/// Starts queued runs while there is room; woken by new entries and every half second.
pub async fn dispatch_loop(state: Shared) {
    loop {
        dispatch_once(&state).await;
        let _ =
            tokio::time::timeout(Duration::from_millis(500), state.launcher.wake.notified()).await;
    }
}

/// One pass of the dispatcher.
pub async fn dispatch_once(state: &Shared) {
    let l = &state.launcher;
    for q in l.queue() {
        if q.error.is_some() {
            continue;
        }
        let id = q.run_id.clone();
        let exists = state
            .index
            .runs_root()
            .join(&id)
            .join("state.json")
            .exists();
        if !exists {
            let running = state.index.active().len() + l.pending_starts(state);
            if running >= l.max {
                break;
            }
        }
        // Claim the entry: a cancel now waits, and a second dispatcher would not find it.
        if std::fs::rename(l.entry(&id), l.claimed(&id)).is_err() {
            continue;
        }
        let result = if exists { Ok(()) } else { l.start(&q).await };
        let started = state
            .index
            .runs_root()
            .join(&id)
            .join("state.json")
            .exists();
        match result {
            _ if started => {
                l.starting
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.clone(), std::time::Instant::now());
                let _ = std::fs::remove_file(l.claimed(&id));
            }
            Ok(()) => {
                let _ = std::fs::remove_file(l.claimed(&id));
            }
            Err(e) => {
                let failed = Queued {
                    error: Some(if e.is_empty() {
                        "orx run failed".into()
                    } else {
                        e
                    }),
                    ..q.clone()
                };
                let _ = orx_core::fsutil::atomic_write_json(&l.entry(&id), &failed);
                let _ = std::fs::remove_file(l.claimed(&id));
            }
        }
        state.index.touch(&id);
        state.live.notify(&id);
    }
}
