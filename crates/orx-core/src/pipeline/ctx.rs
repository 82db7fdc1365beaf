//! The run context handed to every stage: the run folder, the worktree, the config, the agent
//! router, git, events, cancellation, and the checkpoint.

use std::path::PathBuf;
use std::time::Instant;

use crate::agent::{AgentCall, AgentIo, AgentMode, AgentRequest, ErrorKind, Router, Usage};
use crate::cancel::CancelToken;
use crate::config::Config;
use crate::git::Git;
use crate::metrics::StageRecord;
use crate::prompt::Prompts;
use crate::protocol::{AgentCall as AgentCallEvent, Event, EventBody, Meta, RunState};
use crate::run::{EventSink, RunDir, RunFiles};
use crate::{Error, Result};

/// Everything a stage may use.
#[derive(Debug)]
pub struct RunCtx {
    /// The run folder.
    pub dir: RunDir,
    /// The repository root.
    pub repo: PathBuf,
    /// The worktree.
    pub worktree: PathBuf,
    /// The task text.
    pub task: String,
    /// The config.
    pub config: Config,
    /// Agents.
    pub router: Router,
    /// Git in the worktree (logged to logs/git.log).
    pub git: Git,
    /// Events.
    pub events: EventSink,
    /// Cancellation.
    pub cancel: CancelToken,
    /// Prompt templates.
    pub prompts: Prompts,
    /// The run folder's writer (redacts what people read; keeps the run's inputs whole).
    pub files: RunFiles,
    /// The checkpoint.
    pub state: RunState,
    /// meta.json.
    pub meta: Meta,
    /// Pipeline stage names (to know e.g. whether decompose runs).
    pub pipeline_stages: Vec<String>,
    /// Usage and agent time of the stage running now (for its metrics record).
    pub stage_usage: StageTotals,
    /// Set by stages that write their own metrics records (implement).
    pub recorded_itself: bool,
}

/// Agent totals of the running stage.
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

impl RunCtx {
    /// Writes the checkpoint atomically and durably: work done (a stage ended, an item passed).
    pub fn save(&mut self) -> Result<()> {
        self.files.save_state(&mut self.state, true)
    }

    /// Writes the checkpoint atomically, not flushed: progress marks (something started).
    pub fn mark(&mut self) -> Result<()> {
        self.files.save_state(&mut self.state, false)
    }

    /// Emits an event.
    pub fn emit(&self, event: Event) {
        self.events.emit(event);
    }

    /// Fails with `Cancelled` when the run was asked to stop.
    pub fn check_cancel(&self) -> Result<()> {
        if self.cancel.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Writes `text` (redacted) to `path` atomically.
    pub fn write(&self, path: &std::path::Path, text: &str) -> Result<()> {
        self.files.text(path, text)
    }

    /// Saves a run input that later stages read back (plan.md, spec.md, backlog.yaml): whole
    /// for the run, redacted in context/ for people.
    pub fn input(&self, name: &str, text: &str) -> Result<()> {
        self.files.input(name, text)
    }

    /// Renders `template` with `ctx`, saves it as prompts/<file>, calls the routed agent for
    /// `role`, logs its stream, and accounts its usage. Cancellation becomes `Err(Cancelled)`.
    pub fn call_agent(
        &mut self,
        role: &str,
        mode: AgentMode,
        prompt: String,
        prompt_file: &str,
        item: Option<&str>,
        attempt: u32,
    ) -> Result<AgentCall> {
        self.check_cancel()?;
        self.write(&self.dir.prompt(prompt_file), &prompt)?;
        let suffix = RunDir::suffix(
            item,
            item.map(|_| attempt).or((attempt > 1).then_some(attempt)),
        );
        let io = AgentIo {
            stdout_log: self.dir.log(&format!("agent_{role}{suffix}.jsonl")),
            stderr_log: self.dir.log(&format!("agent_{role}{suffix}.stderr.log")),
            cancel: self.cancel.clone(),
            redactor: self.files.redactor().clone(),
            ledger: Some(self.ledger()),
        };
        let req = AgentRequest {
            role: role.to_string(),
            item: item.map(String::from),
            attempt,
            mode,
            prompt,
            model: None,
            reasoning_effort: None,
            timeout: std::time::Duration::from_secs(600),
            cwd: self.worktree.clone(),
            task: self.task.clone(),
        };
        let started = Instant::now();
        let mut ev = Event::new(
            EventBody::AgentStarted,
            format!("{role}: calling the agent"),
        )
        .stage(role);
        if let Some(i) = item {
            ev = ev.item(i).attempt(attempt);
        }
        self.emit(ev);
        // A text stage must not change the worktree: remember HEAD and the status before it
        // (one `git status` gives both).
        let before = if mode == AgentMode::Text {
            self.git.snapshot().ok()
        } else {
            None
        };
        let call = self.router.call(req, &io)?;
        if let Some(before) = before {
            let changed = self.git.snapshot().ok().as_ref() != Some(&before);
            if changed && before.clean {
                // The worktree was clean: put it back exactly (an agent commit included).
                let head = before.head.clone().unwrap_or_else(|| "HEAD".into());
                self.git.run(&["reset", "--quiet", "--hard", &head])?;
                self.git.run(&["clean", "-fdq"])?;
                self.emit(
                    Event::warning(format!("{role}: the agent changed the worktree in a read-only stage; the changes were reverted"))
                        .stage(role),
                );
            } else if changed {
                // Uncommitted run work was there before: it is kept, and the change is reported.
                self.emit(
                    Event::warning(format!("{role}: the agent changed the worktree in a read-only stage; review the worktree before the next stage"))
                        .stage(role),
                );
            }
        }
        // The CLI's own figure (claude reports one) wins over the pricing table.
        let cost = call.outcome.cost_usd.unwrap_or_else(|| {
            crate::metrics::cost(
                call.route.model.as_deref(),
                &call.outcome.usage,
                &self.config.pricing,
            )
        });
        self.stage_usage.usage.add(&call.outcome.usage);
        self.stage_usage.agent_secs += started.elapsed().as_secs_f64();
        self.stage_usage.cost_usd += cost;
        self.stage_usage.executor = Some(call.route.executor.to_string());
        self.stage_usage.model = call.route.model.clone();
        let mut ev = Event::new(
            EventBody::AgentFinished(AgentCallEvent {
                executor: call.route.executor.name().to_string(),
                model: call.route.model.clone(),
                duration_secs: call.outcome.duration_secs,
                tokens: call.outcome.usage,
                cost_usd: cost,
                tries: call.tries,
                fallbacks: call.fallbacks,
                error: call.outcome.error.clone(),
            }),
            match &call.outcome.error {
                None => format!("{role}: the agent answered"),
                Some(e) => format!(
                    "{role}: the agent failed ({}): {}",
                    e.kind.as_str(),
                    e.message
                ),
            },
        )
        .stage(role);
        if let Some(i) = item {
            ev = ev.item(i).attempt(attempt);
        }
        self.emit(ev);
        if call
            .outcome
            .error
            .as_ref()
            .is_some_and(|e| e.kind == ErrorKind::Cancelled)
            || self.cancel.is_cancelled()
        {
            return Err(Error::Cancelled);
        }
        Ok(call)
    }

    /// The ledger of the run's live process groups.
    pub fn ledger(&self) -> crate::process::GroupLedger {
        crate::process::GroupLedger::new(self.dir.processes(), self.dir.id())
    }

    /// Appends a record to metrics/stages.jsonl.
    pub fn record(&self, rec: &StageRecord) -> Result<()> {
        self.files.append_json(&self.dir.stage_metrics(), rec)
    }

    /// Reads a context file, if present (a run input whole, from its private copy).
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
}
