//! The states, phases and categories a run folder records: one enum each, written in snake_case.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Implements `as_str` and `Display` with the enum's serialized (snake_case) names.
macro_rules! names {
    ($t:ty { $($v:ident => $s:literal),+ $(,)? }) => {
        impl $t {
            /// The name written in the run folder.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$v => $s),+
                }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use names;

/// The run's status, as its driver records it (state.json, meta.json).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Created, not started.
    Pending,
    /// A process drives it now (or did, and died: see the lock).
    Running,
    /// Every stage finished.
    Succeeded,
    /// A stage failed; `orx resume` restarts it.
    Failed,
    /// Stopped by Ctrl-C, SIGTERM or `orx cancel`; resumable.
    Cancelled,
    /// Paused for a person (a budget reached, an approval): no process holds it.
    Waiting,
}

names!(RunStatus {
    Pending => "pending",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    Cancelled => "cancelled",
    Waiting => "waiting",
});

impl RunStatus {
    /// True when no process will change the run any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

/// A run's status as a reader sees it: what the driver recorded, except that a `running` run
/// with no live driver is `interrupted`, one whose files cannot be read is `corrupt`, and one the
/// dashboard accepted and has not started yet is `queued`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Observed {
    /// Accepted by the dashboard, waiting for its turn.
    Queued,
    /// Created, not started.
    Pending,
    /// A live driver works on it.
    Running,
    /// Its driver died while it ran; `orx resume` continues it.
    Interrupted,
    /// Every stage finished.
    Succeeded,
    /// A stage failed.
    Failed,
    /// Stopped on request; resumable.
    Cancelled,
    /// Paused for a person: `orx approve` continues it.
    Waiting,
    /// Its state.json cannot be read.
    Corrupt,
}

names!(Observed {
    Queued => "queued",
    Pending => "pending",
    Running => "running",
    Interrupted => "interrupted",
    Succeeded => "succeeded",
    Failed => "failed",
    Cancelled => "cancelled",
    Waiting => "waiting",
    Corrupt => "corrupt",
});

impl Observed {
    /// Every status, in the order the dashboard's filter lists them.
    pub const ALL: [Observed; 9] = [
        Observed::Waiting,
        Observed::Queued,
        Observed::Pending,
        Observed::Running,
        Observed::Interrupted,
        Observed::Succeeded,
        Observed::Failed,
        Observed::Cancelled,
        Observed::Corrupt,
    ];

    /// The status named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// What a reader sees of `status` given whether a live driver holds the run.
    pub fn of(status: RunStatus, driven: bool) -> Self {
        match status {
            RunStatus::Running if !driven => Observed::Interrupted,
            RunStatus::Pending => Observed::Pending,
            RunStatus::Running => Observed::Running,
            RunStatus::Succeeded => Observed::Succeeded,
            RunStatus::Failed => Observed::Failed,
            RunStatus::Cancelled => Observed::Cancelled,
            RunStatus::Waiting => Observed::Waiting,
        }
    }

    /// A run someone works on now (it may change under the reader).
    pub fn is_active(self) -> bool {
        matches!(self, Observed::Running | Observed::Pending)
    }

    /// A run `orx resume` may continue.
    pub fn is_resumable(self) -> bool {
        matches!(
            self,
            Observed::Failed | Observed::Cancelled | Observed::Interrupted
        )
    }
}

/// A stage's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    /// Not started.
    Pending,
    /// Started and not finished.
    Running,
    /// Finished.
    Done,
    /// Failed.
    Failed,
    /// Skipped (disabled or nothing to do).
    Skipped,
}

names!(StageStatus {
    Pending => "pending",
    Running => "running",
    Done => "done",
    Failed => "failed",
    Skipped => "skipped",
});

/// A backlog item's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Not started.
    Pending,
    /// Being implemented or verified.
    Running,
    /// Gates passed and committed.
    Passed,
    /// Attempts exhausted.
    Failed,
    /// Not run because a dependency failed or the run stopped.
    Skipped,
}

names!(ItemStatus {
    Pending => "pending",
    Running => "running",
    Passed => "passed",
    Failed => "failed",
    Skipped => "skipped",
});

/// Where an item's current attempt is: what a resume redoes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemPhase {
    /// The agent works on the worktree: a resume runs it again as the same attempt.
    Agent,
    /// The agent finished: a resume re-verifies the worktree as that attempt.
    Verify,
}

names!(ItemPhase {
    Agent => "agent",
    Verify => "verify",
});

/// Why an attempt, an item, a stage or a run failed.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FailureCategory {
    /// A required gate failed.
    GateFailed,
    /// A gate's command could not start (found by the baseline, before any agent call).
    GateCannotStart,
    /// A `baseline: require_clean` gate already failed on the untouched base.
    BaselineNotClean,
    /// The agent failed (crash, timeout, auth, bad request, …).
    AgentError,
    /// The attempt changed no file.
    NoChanges,
    /// The change broke a guardrail (forbidden files, too many files, git's own data).
    Guardrail,
    /// decompose's answer was not a valid backlog, twice.
    InvalidBacklog,
    /// implement found no backlog.
    NoBacklog,
    /// A text stage's answer was empty.
    EmptyAnswer,
    /// The review ended without a verdict.
    InvalidReview,
    /// An item did not pass (its own category is in its record).
    ItemFailed,
    /// Preparing the run failed (worktree, setup commands).
    SetupFailed,
    /// A queued run could not be started (the dashboard's `orx run --detach` failed).
    StartFailed,
    /// The worktree stopped being a git worktree (its `.git` or folder removed).
    WorktreeLost,
    /// A pull request's checks still failed after `ci.max_rounds` rounds.
    CiFailed,
    /// A pull request's checks stayed pending past `ci.timeout`.
    CiTimeout,
    /// orx's own error inside a stage (a git command, a file).
    Error,
    /// A category a newer orx wrote.
    #[serde(other)]
    Other,
}

names!(FailureCategory {
    GateFailed => "gate_failed",
    GateCannotStart => "gate_cannot_start",
    BaselineNotClean => "baseline_not_clean",
    AgentError => "agent_error",
    NoChanges => "no_changes",
    Guardrail => "guardrail",
    InvalidBacklog => "invalid_backlog",
    NoBacklog => "no_backlog",
    EmptyAnswer => "empty_answer",
    InvalidReview => "invalid_review",
    ItemFailed => "item_failed",
    SetupFailed => "setup_failed",
    StartFailed => "start_failed",
    WorktreeLost => "worktree_lost",
    CiFailed => "ci_failed",
    CiTimeout => "ci_timeout",
    Error => "error",
    Other => "other",
});

/// Why a paused run waits for a person (SPEC §16).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// A spending limit was reached.
    Budget,
    /// A stage's result waits for approval.
    Approval,
}

names!(WaitReason {
    Budget => "budget",
    Approval => "approval",
});

/// How one stage attempt ended, in its metrics record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// Finished well.
    #[default]
    Ok,
    /// Failed.
    Failed,
    /// Stopped on request.
    Cancelled,
    /// Had nothing to do.
    Skipped,
}

names!(AttemptStatus {
    Ok => "ok",
    Failed => "failed",
    Cancelled => "cancelled",
    Skipped => "skipped",
});
