//! What a stage works with: the run's environment (read-only while it runs), its checkpoint
//! (state.json and meta.json), git in the worktree, the agents and the event sink.

use std::path::PathBuf;
use std::time::Instant;

use crate::agent::{AgentCall, AgentIo, AgentMode, AgentRequest, ErrorKind, Router, Usage};
use crate::cancel::CancelToken;
use crate::config::Config;
use crate::git::Git;
use crate::metrics::StageRecord;
use crate::process::GroupLedger;
use crate::prompt::Prompts;
use crate::protocol::{AgentCall as AgentCallEvent, Event, EventBody, Meta, RunState};
use crate::run::{EventSink, RunDir, RunFiles};
use crate::{Error, Result};

/// What a run works with that does not change while it runs.
#[derive(Debug)]
pub struct RunEnv {
    /// The run folder.
    pub dir: RunDir,
    /// The repository root.
    pub repo: PathBuf,
    /// The worktree.
    pub worktree: PathBuf,
    /// The task, whole.
    pub task: String,
    /// The config, with the pipeline's per-stage options applied.
    pub config: Config,
    /// Prompt templates.
    pub prompts: Prompts,
    /// The pipeline's stages, in order.
    pub stages: Vec<String>,
    /// The run folder's writer.
    pub files: RunFiles,
    /// Cancellation.
    pub cancel: CancelToken,
}

impl RunEnv {
    /// A run input or context file, whole (the private copy first).
    pub fn context_text(&self, name: &str) -> Option<String> {
        self.files.read_input(name)
    }

    /// The repository context (project map, tooling, verify commands) as template input.
    pub fn repo_context(&self) -> serde_json::Value {
        serde_json::json!({
            "project_map": self.context_text("project_map.md"),
            "tooling_snapshot": self.context_text("tooling_snapshot.md"),
            "verify_commands": self.context_text("verify_commands.md"),
        })
    }

    /// The ledger of the run's live process groups.
    pub fn ledger(&self) -> GroupLedger {
        GroupLedger::new(self.dir.processes(), self.dir.id())
    }

    /// True when a stage of the pipeline saves the input `name` (see
    /// [`super::Stage::outputs`]).
    pub fn pipeline_produces(&self, name: &str) -> bool {
        self.stages
            .iter()
            .any(|s| super::stage_by_name(s).is_some_and(|stage| stage.outputs().contains(&name)))
    }

    /// True when the pipeline has the stage `name`.
    pub fn pipeline_has(&self, name: &str) -> bool {
        self.stages.iter().any(|s| s == name)
    }

    /// Fails with `Cancelled` when the run was asked to stop.
    pub fn check_cancel(&self) -> Result<()> {
        if self.cancel.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// The checkpoint: state.json (written at every transition) and meta.json.
#[derive(Debug)]
pub struct Checkpoint {
    state: RunState,
    meta: Meta,
    files: RunFiles,
}

impl Checkpoint {
    /// The checkpoint of `state` and `meta`, written by `files`.
    pub fn new(state: RunState, meta: Meta, files: RunFiles) -> Self {
        Self { state, meta, files }
    }

    /// The state.
    pub fn state(&self) -> &RunState {
        &self.state
    }

    /// The state, to change (then [`Checkpoint::save`] or [`Checkpoint::mark`]).
    pub fn state_mut(&mut self) -> &mut RunState {
        &mut self.state
    }

    /// meta.json.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// meta.json, to change (then [`Checkpoint::save_meta`]).
    pub fn meta_mut(&mut self) -> &mut Meta {
        &mut self.meta
    }

    /// Writes the checkpoint atomically and durably: work done (a stage ended, an item passed).
    pub fn save(&mut self) -> Result<()> {
        self.files.save_state(&mut self.state, true)
    }

    /// Writes the checkpoint atomically, not flushed: progress marks (something started).
    pub fn mark(&mut self) -> Result<()> {
        self.files.save_state(&mut self.state, false)
    }

    /// Writes meta.json.
    pub fn save_meta(&self) -> Result<()> {
        self.files.save_meta(&self.meta)
    }
}

/// Agent totals of the running stage (for its metrics record).
#[derive(Debug, Default, Clone)]
pub struct StageTotals {
    /// Tokens.
    pub usage: Usage,
    /// Agent seconds.
    pub agent_secs: f64,
    /// Cost.
    pub cost_usd: f64,
    /// Executor of the last call.
    pub executor: Option<String>,
    /// Model of the last call.
    pub model: Option<String>,
}

/// One agent call a stage makes.
#[derive(Debug, Clone)]
pub struct Turn<'a> {
    /// The role (plan, implement, fix, …).
    pub role: &'a str,
    /// Read-only or editing.
    pub mode: AgentMode,
    /// The prompt.
    pub prompt: String,
    /// Where the prompt is saved (prompts/<file>).
    pub prompt_file: String,
    /// The item, for implement and fix.
    pub item: Option<&'a str>,
    /// The attempt (item attempt, or try of a text stage).
    pub attempt: u32,
    /// The agent session to continue (a fix after its implement call).
    pub resume: Option<crate::agent::Session>,
}

/// Where a call's meter leaves the limit that stopped it (`budget.hard`).
type HardStop = std::sync::Arc<std::sync::Mutex<Option<crate::budget::Reached>>>;

/// Everything a stage may use.
#[derive(Debug)]
pub struct RunCtx {
    /// What does not change while the run runs.
    pub env: RunEnv,
    /// state.json and meta.json.
    pub cp: Checkpoint,
    /// Git, pinned to the worktree (logged to logs/git.log).
    pub git: Git,
    router: Router,
    events: EventSink,
    totals: StageTotals,
}

impl RunCtx {
    /// The context of a run.
    pub fn new(env: RunEnv, cp: Checkpoint, git: Git, router: Router, events: EventSink) -> Self {
        Self {
            env,
            cp,
            git,
            router,
            events,
            totals: StageTotals::default(),
        }
    }

    /// Emits an event.
    pub fn emit(&self, event: Event) {
        self.events.emit(event);
    }

    /// The agent totals of the stage so far, reset for the next one.
    pub fn take_totals(&mut self) -> StageTotals {
        std::mem::take(&mut self.totals)
    }

    /// Appends a record to metrics/stages.jsonl.
    pub fn record(&self, rec: &StageRecord) -> Result<()> {
        self.env
            .files
            .append_json(&self.env.dir.stage_metrics(), rec)
    }

    /// The session `saved` as the agent routed for `role` can continue it: None when another
    /// executor is routed there now or it cannot resume.
    pub fn session_for(
        &self,
        role: &str,
        saved: &crate::protocol::SessionRef,
    ) -> Result<Option<crate::agent::Session>> {
        let Some(executor) = crate::config::ExecutorKind::parse(&saved.executor) else {
            return Ok(None);
        };
        let route = self.router.route(role)?;
        Ok(
            (route.executor == executor && self.router.resumes(executor)).then(|| {
                crate::agent::Session {
                    executor,
                    id: saved.id.clone(),
                    reported: saved.reported,
                }
            }),
        )
    }

    /// Keeps a turn's prompt and logs under `<name>.<tag>` so the next call of the same turn
    /// does not overwrite them (a resumed call that failed, before its fresh call).
    pub fn set_aside(
        &self,
        turn_prompt_file: &str,
        role: &str,
        item: &str,
        attempt: u32,
        tag: &str,
    ) {
        let env = &self.env;
        let suffix = RunDir::suffix(Some(item), Some(attempt));
        let tagged = |name: &str| match name.split_once('.') {
            Some((stem, ext)) => format!("{stem}.{tag}.{ext}"),
            None => format!("{name}.{tag}"),
        };
        let prompt = env.dir.prompt(turn_prompt_file);
        let _ = std::fs::rename(&prompt, env.dir.prompt(&tagged(turn_prompt_file)));
        for name in [
            format!("agent_{role}{suffix}.jsonl"),
            format!("agent_{role}{suffix}.stderr.log"),
        ] {
            let _ = std::fs::rename(env.dir.log(&name), env.dir.log(&tagged(&name)));
        }
    }

    /// Saves the prompt, calls the routed agent, logs its stream, and accounts its usage.
    /// A read-only turn that changed the worktree is undone (or reported, when the worktree
    /// held run work). Cancellation becomes `Err(Cancelled)`.
    pub fn call_agent(&mut self, turn: Turn<'_>) -> Result<AgentCall> {
        self.env.check_cancel()?;
        let reservation = self.check_budget()?;
        let env = &self.env;
        env.files
            .text(&env.dir.prompt(&turn.prompt_file), &turn.prompt)?;
        let (req, mut io) = self.request(&turn);
        let hard = self.hard_limit(&turn, &mut io)?;
        let started = Instant::now();
        self.emit(self.turn_event(
            &turn,
            EventBody::AgentStarted,
            format!("{}: calling the agent", turn.role),
        ));
        // A text stage must not change the worktree: HEAD and the status before it (one
        // `git status` gives both).
        let before = (turn.mode == AgentMode::Text)
            .then(|| self.git.snapshot().ok())
            .flatten();
        let call = self.router.call(req, &io)?;
        if let Some(before) = before {
            self.undo_text_edits(turn.role, &before)?;
        }
        self.account(&turn, &call, started);
        // The call's cost is in the day's ledger: its reservation goes.
        drop(reservation);
        // A call that finished before the stop landed keeps its result: the next call waits.
        let cut = call
            .outcome
            .error
            .as_ref()
            .is_some_and(|e| e.kind == ErrorKind::Cancelled)
            && !self.env.cancel.is_cancelled();
        let stopped = hard.and_then(|h| h.lock().ok().and_then(|mut r| r.take()));
        if let Some(reached) = stopped.filter(|_| cut) {
            self.emit(self.turn_event(
                &turn,
                EventBody::Warning,
                format!(
                    "{}: the agent call was stopped at the limit (budget.hard)",
                    turn.role
                ),
            ));
            return Err(self.budget_reached(&reached));
        }
        if call
            .outcome
            .error
            .as_ref()
            .is_some_and(|e| e.kind == ErrorKind::Cancelled)
            || self.env.cancel.is_cancelled()
        {
            return Err(Error::Cancelled);
        }
        Ok(call)
    }

    /// With `budget.hard`, the call runs under a token of its own, stopped by a meter of its
    /// usage once the run's or the day's spending with it reaches a limit. Gives where the
    /// meter leaves the limit it reached.
    fn hard_limit(&self, turn: &Turn<'_>, io: &mut AgentIo) -> Result<Option<HardStop>> {
        let budget = self.env.config.budget.clone();
        if !budget.hard || budget.limits().is_none() {
            return Ok(None);
        }
        let run = crate::budget::run_spend(&self.env.dir.events());
        let day = if budget.day_usd.is_some() {
            crate::budget::day_spend(&self.env.repo.join("runs"))
        } else {
            0.0
        };
        let raise = self.cp.state().budget_raise;
        let model = self.router.route(turn.role)?.model;
        let pricing = self.env.config.pricing.clone();
        let call = self.env.cancel.child();
        io.cancel = call.clone();
        let reached = std::sync::Arc::new(std::sync::Mutex::new(None));
        let seen = reached.clone();
        io.meter = Some(crate::agent::Meter(std::sync::Arc::new(move |u| {
            let usd = crate::metrics::cost(model.as_deref(), u, &pricing);
            let now = crate::budget::Spend {
                usd: run.usd + usd,
                tokens: run.tokens + u.input + u.output,
            };
            if let Some(r) = crate::budget::check(&budget, &raise, now, day + usd)
                && let Ok(mut slot) = seen.lock()
                && slot.is_none()
            {
                *slot = Some(r);
                call.cancel();
            }
        })));
        Ok(Some(reached))
    }

    fn request(&self, turn: &Turn<'_>) -> (AgentRequest, AgentIo) {
        let env = &self.env;
        let suffix = RunDir::suffix(
            turn.item,
            turn.item
                .map(|_| turn.attempt)
                .or((turn.attempt > 1).then_some(turn.attempt)),
        );
        let io = AgentIo {
            stdout_log: env.dir.log(&format!("agent_{}{suffix}.jsonl", turn.role)),
            stderr_log: env
                .dir
                .log(&format!("agent_{}{suffix}.stderr.log", turn.role)),
            cancel: env.cancel.clone(),
            redactor: env.files.redactor().clone(),
            ledger: Some(env.ledger()),
            activity: Some(self.activity_sink(turn)),
            meter: None,
        };
        let req = AgentRequest {
            role: turn.role.to_string(),
            item: turn.item.map(String::from),
            attempt: turn.attempt,
            mode: turn.mode,
            prompt: turn.prompt.clone(),
            model: None,
            reasoning_effort: None,
            timeout: std::time::Duration::from_secs(600),
            cwd: env.worktree.clone(),
            task: env.task.clone(),
            resume: turn.resume.clone(),
        };
        (req, io)
    }

    /// The agent's activity as listener-only events of this turn.
    fn activity_sink(&self, turn: &Turn<'_>) -> crate::agent::ActivitySink {
        let events = self.events.clone();
        let template = self.turn_event(turn, EventBody::AgentActivity, String::new());
        crate::agent::ActivitySink(std::sync::Arc::new(move |a| {
            let mut e = template.clone();
            e.message = a.to_string();
            events.notify(e);
        }))
    }

    fn turn_event(&self, turn: &Turn<'_>, body: EventBody, message: String) -> Event {
        let ev = Event::new(body, message).stage(turn.role);
        match turn.item {
            Some(i) => ev.item(i).attempt(turn.attempt),
            None => ev,
        }
    }

    /// After a read-only turn: a worktree that was clean is put back exactly (an agent commit
    /// included); one that held run work is kept, and the change reported.
    fn undo_text_edits(&self, role: &str, before: &crate::git::Snapshot) -> Result<()> {
        let changed = self.git.snapshot().ok().as_ref() != Some(before);
        if !changed {
            return Ok(());
        }
        if before.clean {
            let head = before.head.clone().unwrap_or_else(|| "HEAD".into());
            self.git.run(&["reset", "--quiet", "--hard", &head])?;
            self.git.run(&["clean", "-fdq"])?;
            self.emit(
                Event::warning(format!(
                    "{role}: the agent changed the worktree in a read-only stage; the changes were reverted"
                ))
                .stage(role),
            );
        } else {
            self.emit(
                Event::warning(format!(
                    "{role}: the agent changed the worktree in a read-only stage; review the worktree before the next stage"
                ))
                .stage(role),
            );
        }
        Ok(())
    }

    /// Before an agent call: a reached limit of `budget` pauses the run (the checkpoint says
    /// the run waits; `approve` raises the limit and goes on).
    /// Before a call: the run's limits, then the day's, which concurrent runs share. The day's
    /// check reserves the call (at the average cost of a call here) so that other runs count
    /// it while it is in flight; the reservation is held until the call's cost is recorded.
    fn check_budget(&self) -> Result<Option<crate::budget::Reservation>> {
        use crate::budget::DayCheck;
        let budget = &self.env.config.budget;
        if budget.run_usd.is_none() && budget.run_tokens.is_none() && budget.day_usd.is_none() {
            return Ok(None);
        }
        // Every call of the run, the stage in progress included, is in its event log.
        let run = crate::budget::run_spend(&self.env.dir.events());
        let raise = self.cp.state().budget_raise;
        if let Some(reached) = crate::budget::check(budget, &raise, run, 0.0) {
            return Err(self.budget_reached(&reached));
        }
        let Some(day_usd) = budget.day_usd else {
            return Ok(None);
        };
        let runs = self.env.repo.join("runs");
        let estimate = crate::budget::per_call(&runs, 30).map(|p| p.usd);
        let mut said = false;
        loop {
            match crate::budget::reserve_day(
                &runs,
                self.env.dir.id(),
                day_usd + raise.usd,
                estimate,
            )? {
                DayCheck::Go(r) => return Ok(Some(r)),
                DayCheck::Reached(day) => {
                    let reached = crate::budget::check(budget, &raise, run, day).unwrap_or(
                        crate::budget::Reached {
                            limit: crate::budget::Limit::DayUsd,
                            used: day,
                            allowed: day_usd + raise.usd,
                        },
                    );
                    return Err(self.budget_reached(&reached));
                }
                DayCheck::Busy => {
                    if !said {
                        said = true;
                        self.emit(Event::warning(
                            "today's budget is nearly reached: waiting for the calls other runs \
                             have in flight to end (budget.day_usd)",
                        ));
                    }
                    if self.env.cancel.is_cancelled() {
                        return Err(Error::Cancelled);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            }
        }
    }

    fn budget_reached(&self, reached: &crate::budget::Reached) -> Error {
        self.emit(Event::warning(reached.to_string()));
        Error::Waiting {
            reason: crate::protocol::WaitReason::Budget,
            what: reached.to_string(),
        }
    }

    /// Adds the call to the stage's totals and the day's ledger, and tells the listeners how it
    /// went.
    fn account(&mut self, turn: &Turn<'_>, call: &AgentCall, started: Instant) {
        // The CLI's own figure (claude reports one) wins over the pricing table.
        let cost = call.outcome.cost_usd.unwrap_or_else(|| {
            crate::metrics::cost(
                call.route.model.as_deref(),
                &call.outcome.usage,
                &self.env.config.pricing,
            )
        });
        let _ = crate::budget::record(
            &self.env.repo.join("runs"),
            self.env.dir.id(),
            crate::budget::Spend {
                usd: cost,
                tokens: call.outcome.usage.input + call.outcome.usage.output,
            },
        );
        self.totals.usage.add(&call.outcome.usage);
        self.totals.agent_secs += started.elapsed().as_secs_f64();
        self.totals.cost_usd += cost;
        self.totals.executor = Some(call.route.executor.to_string());
        self.totals.model = call.route.model.clone();
        let body = EventBody::AgentFinished(AgentCallEvent {
            executor: call.route.executor.name().to_string(),
            model: call.route.model.clone(),
            duration_secs: call.outcome.duration_secs,
            tokens: call.outcome.usage,
            cost_usd: cost,
            tries: call.tries,
            fallbacks: call.fallbacks,
            error: call.outcome.error.clone(),
        });
        let role = turn.role;
        let message = match &call.outcome.error {
            None => format!("{role}: the agent answered"),
            Some(e) => format!(
                "{role}: the agent failed ({}): {}",
                e.kind.as_str(),
                e.message
            ),
        };
        self.emit(self.turn_event(turn, body, message));
    }
}
