//! Queueing runs and handing them to the launcher; cancelling and resuming them through it.
//!
//! A start request gets its run id at once and is written to `runs/.dashboard/queue/<id>.json`;
//! the dispatcher hands queued runs to the launcher while fewer than `max_concurrent_runs` are
//! running. The queue is on disk, so it survives a dashboard restart; `orx dashboard`'s launcher
//! makes each run a process of its own, so the runs survive it too.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use orx_core::config::{ExecutorKind, Overrides, StageOverride};
use orx_core::launch::{LaunchError, Launcher, ResumeSpec, RunSpec};
use orx_core::protocol::Continue;
use orx_core::run::Store;
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
    /// The run this one follows up (on its branch and worktree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
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
    /// Set when the entry continues an existing run instead of starting one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<QueuedResume>,
}

/// How a queued entry continues its run: a plain resume, or a person's decision on a waiting
/// run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum QueuedResume {
    /// `orx resume`.
    Resume,
    /// `orx approve`, with what it adds to the budget.
    Approve {
        /// Dollars.
        add_usd: f64,
        /// Tokens.
        add_tokens: u64,
    },
    /// `orx reject`, with the feedback.
    Reject {
        /// What to change.
        feedback: String,
    },
}

impl QueuedResume {
    fn of(how: Option<&Continue>) -> Self {
        match how {
            None => QueuedResume::Resume,
            Some(Continue::Approve(r)) => QueuedResume::Approve {
                add_usd: r.usd,
                add_tokens: r.tokens,
            },
            Some(Continue::Reject(f)) => QueuedResume::Reject {
                feedback: f.clone(),
            },
        }
    }

    fn how(&self) -> Option<Continue> {
        match self {
            QueuedResume::Resume => None,
            QueuedResume::Approve {
                add_usd,
                add_tokens,
            } => Some(Continue::Approve(orx_core::protocol::BudgetRaise {
                usd: *add_usd,
                tokens: *add_tokens,
            })),
            QueuedResume::Reject { feedback } => Some(Continue::Reject(feedback.clone())),
        }
    }
}

/// What a request to continue a run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continued {
    /// Its driver was started.
    Started,
    /// It waits in the queue for a free slot.
    Queued,
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

/// The raise a form asks for: empty fields add nothing; anything else must be a number that is
/// not negative (dollars) or a whole number (tokens).
pub fn raise_of(
    usd: Option<&str>,
    tokens: Option<&str>,
) -> Result<orx_core::protocol::BudgetRaise, Refusal> {
    let bad = |field: &str, v: &str, fix: &str| Refusal {
        status: 422,
        message: format!(
            "{field} must be {fix}, not `{}`",
            v.chars().take(20).collect::<String>()
        ),
        fix: "leave it empty to add nothing".into(),
    };
    let usd = match usd.map(str::trim).filter(|v| !v.is_empty()) {
        None => 0.0,
        Some(v) => match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => x,
            _ => return Err(bad("add_usd", v, "dollars, like 1.50")),
        },
    };
    let tokens = match tokens.map(str::trim).filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| bad("add_tokens", v, "a whole number of tokens"))?,
    };
    Ok(orx_core::protocol::BudgetRaise { usd, tokens })
}

fn refusal(status: u16, message: impl Into<String>, fix: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
        fix: fix.into(),
    }
}

/// The queue of runs waiting to start, and what the dispatcher knows of the runs it started.
#[derive(Debug)]
pub struct RunQueue {
    repo: PathBuf,
    store: Store,
    queue_dir: PathBuf,
    launcher: Arc<dyn Launcher>,
    max: usize,
    wake: Notify,
    /// Runs started here and not yet seen running by the index (they count against the limit).
    /// With the status each had when it was started (a resumed run shows that one until its
    /// driver runs).
    starting: std::sync::Mutex<
        std::collections::HashMap<
            String,
            (std::time::Instant, Option<orx_core::protocol::Observed>),
        >,
    >,
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
        let known = orx_core::protocol::BUILTIN_PIPELINES.contains(&p)
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

impl RunQueue {
    /// The queue of the repository of `opts`.
    pub fn new(opts: &Options) -> Self {
        let store = Store::new(&opts.repo);
        Self {
            repo: opts.repo.clone(),
            queue_dir: store.runs_root().join(".dashboard").join("queue"),
            store,
            launcher: opts.launcher.clone(),
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
            resume: None,
        };
        self.put(&q)?;
        Ok(id)
    }

    /// Writes queue entry `q` and wakes the dispatcher.
    fn put(&self, q: &Queued) -> Result<(), Refusal> {
        let io = |e: orx_core::Error| {
            refusal(
                500,
                format!("could not queue run {}: {e}", q.run_id),
                format!("check that {} is writable", self.queue_dir.display()),
            )
        };
        fs_err::create_dir_all(&self.queue_dir).map_err(|e| io(e.into()))?;
        orx_core::fsutil::atomic_write_json(&self.entry(&q.run_id), q).map_err(io)?;
        self.wake.notify_one();
        Ok(())
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
    pub fn entries(&self) -> Vec<Queued> {
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
        map.retain(|id, (at, before)| {
            // Held until the index sees the run running (or ended): a run just created reads
            // `pending`, and one resumed still reads `interrupted` or its old status, for a while.
            at.elapsed() < Duration::from_secs(60)
                && state.index.row(id).is_none_or(|r| {
                    use orx_core::protocol::Observed as O;
                    matches!(r.status, O::Queued | O::Pending | O::Interrupted)
                        || Some(r.status) == *before
                })
        });
        map.len()
    }

    /// What the launcher is asked to start for `q`.
    fn spec(&self, q: &Queued) -> Result<RunSpec, String> {
        let r = &q.request;
        let mut overrides = Overrides {
            engine: optional(&r.engine).and_then(ExecutorKind::parse),
            model: optional(&r.model).map(str::to_string),
            ..Default::default()
        };
        for s in &r.stages {
            let (role, o) = StageOverride::parse(s).map_err(|e| e.to_string())?;
            overrides.stages.insert(role, o);
        }
        let pipeline = match optional(&r.pipeline) {
            Some(p) => Some(pipeline_arg(&self.repo, p).map_err(|r| r.message)?),
            None => None,
        };
        Ok(RunSpec {
            repo: self.repo.clone(),
            run_id: q.run_id.clone(),
            task: q.request.task.clone(),
            overrides,
            pipeline,
            base_branch: optional(&r.base_branch).map(str::to_string),
            include_dirty: false,
            issue: None,
            follows: r.follows.clone(),
        })
    }

    /// Starts one queued run through the launcher; returns once its folder exists.
    async fn start(&self, q: &Queued) -> Result<(), String> {
        let spec = self.spec(q)?;
        let launcher = self.launcher.clone();
        tokio::task::spawn_blocking(move || launcher.start(&spec))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| crate::redact(&e.to_string()))
    }

    /// Cancels a run: drops it from the queue, or asks the launcher to cancel it.
    pub async fn cancel(&self, id: &str) -> Result<String, Refusal> {
        // While its start is in flight a run can only be cancelled once it holds its lock (the
        // run folder and the process exist): a moment after the launcher makes the folder.
        let locked = orx_core::run::is_valid_run_id(id) && self.store.dir(id).lock().exists();
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
        let (launcher, repo, run) = (self.launcher.clone(), self.repo.clone(), id.to_string());
        let out = tokio::task::spawn_blocking(move || launcher.cancel(&repo, &run)).await;
        match out {
            Ok(Ok(())) => Ok("cancelled".into()),
            Ok(Err(e @ LaunchError::NoAnswer { .. })) => {
                Err(refusal(504, e.to_string(), "try again"))
            }
            Ok(Err(e @ (LaunchError::Refused { .. } | LaunchError::NotHere { .. }))) => {
                Err(refusal(
                    409,
                    crate::redact(&e.to_string()),
                    "refresh the page to see the run's status",
                ))
            }
            Ok(Err(e)) => Err(refusal(
                500,
                format!("could not cancel: {}", crate::redact(&e.to_string())),
                "check the orx binary",
            )),
            Err(e) => Err(refusal(500, e.to_string(), "try again")),
        }
    }

    /// Resumes a run in the background through the launcher (its output in
    /// `logs/dashboard_resume.log`).
    pub fn resume(
        &self,
        state: &crate::AppState,
        id: &str,
        status: orx_core::protocol::Observed,
    ) -> Result<Continued, Refusal> {
        if !status.is_resumable() {
            return Err(refusal(
                409,
                format!("run {id} is {status}; only failed, cancelled or interrupted runs resume"),
                "wait for the run to stop, or cancel it first",
            ));
        }
        self.resume_or_queue(state, id, None)
    }

    /// Runs driven now, and starts not yet seen running.
    fn busy(&self, state: &crate::AppState) -> usize {
        // Starts first: a run the index turns from pending to running between the two reads is
        // then counted twice (it waits a moment in the queue), never not at all.
        let starting = self.pending_starts(state);
        state.index.active().len() + starting
    }

    /// Continues run `id` now when fewer than `max_concurrent_runs` run, else queues it (the
    /// limit holds for resumes as for starts).
    fn resume_or_queue(
        &self,
        state: &crate::AppState,
        id: &str,
        how: Option<Continue>,
    ) -> Result<Continued, Refusal> {
        if self.queued(id).is_some() {
            return Err(refusal(
                409,
                format!("run {id} is already queued"),
                "it goes on when a slot is free; cancel removes it from the queue",
            ));
        }
        if self.busy(state) < self.max {
            self.launch_resume(id, how)?;
            self.mark_starting(state, id);
            return Ok(Continued::Started);
        }
        let task = state.index.row(id).map(|r| r.task).unwrap_or_default();
        let q = Queued {
            run_id: id.to_string(),
            queued_at: orx_core::run::now_rfc3339(),
            request: StartRequest {
                task,
                ..Default::default()
            },
            error: None,
            resume: Some(QueuedResume::of(how.as_ref())),
        };
        self.put(&q)?;
        Ok(Continued::Queued)
    }

    /// Counts `id` against the limit until the index sees its status change.
    fn mark_starting(&self, state: &crate::AppState, id: &str) {
        let seen = state.index.row(id).map(|r| r.status);
        self.starting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), (std::time::Instant::now(), seen));
    }

    /// Continues a run that waits, as a person decided on its page: approved (with what they
    /// add to its budget) or its stage rejected with feedback; refused, with what to do
    /// instead, when the run does not wait for that.
    pub fn continue_waiting(
        &self,
        app: &crate::AppState,
        id: &str,
        state: &orx_core::protocol::RunState,
        how: Continue,
    ) -> Result<Continued, Refusal> {
        use orx_core::protocol::Refusal as Why;
        state.decide(&how).map_err(|why| match why {
            Why::NotWaiting(status) => refusal(
                409,
                format!("run {id} does not wait for a person (status: {status})"),
                "reload the page: it shows what the run can do now",
            ),
            Why::NeedsRaise { why } => refusal(
                422,
                format!(
                    "run {id} waits because {}",
                    why.unwrap_or_else(|| "its budget is reached".into())
                ),
                "add dollars or tokens to its budget, then approve",
            ),
            Why::NoApproval => refusal(
                409,
                format!("run {id} waits for its budget, not for an approval"),
                "raise its budget to go on",
            ),
            Why::NoFeedback { stage } => refusal(
                422,
                format!("the {stage} stage cannot be run again with feedback"),
                "approve it, or change the worktree yourself and resume the run",
            ),
            Why::EmptyFeedback => refusal(
                422,
                "the feedback is empty",
                "say what the agent should change",
            ),
        })?;
        self.resume_or_queue(app, id, Some(how))
    }

    fn launch_resume(&self, id: &str, how: Option<Continue>) -> Result<(), Refusal> {
        let spec = ResumeSpec {
            repo: self.repo.clone(),
            run_id: id.to_string(),
            log: Some(self.store.dir(id).log("dashboard_resume.log")),
            how,
        };
        self.launcher.resume(&spec).map_err(|e| {
            refusal(
                500,
                format!("could not resume: {}", crate::redact(&e.to_string())),
                "check the orx binary and that the run folder is writable",
            )
        })
    }
}

/// Starts queued runs while there is room; woken by new entries and every half second.
pub async fn dispatch_loop(state: Shared) {
    loop {
        dispatch_once(&state).await;
        let _ = tokio::time::timeout(Duration::from_millis(500), state.queue.wake.notified()).await;
    }
}

/// One pass of the dispatcher.
pub async fn dispatch_once(state: &Shared) {
    let l = &state.queue;
    for q in l.entries() {
        if q.error.is_some() {
            continue;
        }
        let id = q.run_id.clone();
        let exists = state.index.dir(&id).state().exists();
        if (!exists || q.resume.is_some()) && l.busy(state) >= l.max {
            break;
        }
        // Claim the entry: a cancel now waits, and a second dispatcher would not find it.
        if std::fs::rename(l.entry(&id), l.claimed(&id)).is_err() {
            continue;
        }
        if let Some(how) = &q.resume {
            let resumed = l.launch_resume(&id, how.how());
            if resumed.is_ok() {
                l.mark_starting(state, &id);
            }
            let _ = std::fs::remove_file(l.claimed(&id));
            if let Err(e) = resumed {
                let failed = Queued {
                    error: Some(e.message),
                    ..q.clone()
                };
                let _ = orx_core::fsutil::atomic_write_json(&l.entry(&id), &failed);
            }
            state.index.touch(&id);
            state.live.notify(&id);
            continue;
        }
        let result = if exists { Ok(()) } else { l.start(&q).await };
        let started = state.index.dir(&id).state().exists();
        // Launched (its folder may not be there yet): its slot is held until the index sees it
        // running or ended.
        if started || (result.is_ok() && !exists) {
            l.starting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.clone(), (std::time::Instant::now(), None));
        }
        match result {
            Ok(()) => {
                let _ = std::fs::remove_file(l.claimed(&id));
            }
            Err(_) if started => {
                let _ = std::fs::remove_file(l.claimed(&id));
            }
            Err(e) => {
                let failed = Queued {
                    error: Some(if e.is_empty() {
                        "the run did not start".into()
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
