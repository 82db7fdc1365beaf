//! The `ci` stage's record (SPEC §14): the rounds of a pull request's checks it watched, what it
//! pushed, and each check's state as it last read it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A check's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    /// Queued or running.
    Pending,
    /// Completed: success, neutral or skipped.
    Passed,
    /// Completed otherwise: failure, cancelled, timed out, action required.
    Failed,
}

super::status::names!(CheckState {
    Pending => "pending",
    Passed => "passed",
    Failed => "failed",
});

/// One check of a commit, as orx last read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckRecord {
    /// Its name (the job's).
    pub name: String,
    /// Its state.
    pub state: CheckState,
    /// GitHub's conclusion, once completed (`failure`, `timed_out`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    /// Its page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What the `ci` stage did so far (state.json's `ci`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CiState {
    /// The round: how many commits' checks were watched (1 for the first).
    pub round: u32,
    /// The commit whose checks this round watches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    /// The commits orx pushed for a fix, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pushed: Vec<String>,
    /// The checks of `sha` as last read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckRecord>,
}

impl CiState {
    /// The overall state of the checks: failed when one failed, pending while one runs (or
    /// none is known yet), else passed.
    pub fn overall(checks: &[CheckRecord]) -> CheckState {
        if checks.iter().any(|c| c.state == CheckState::Failed) {
            CheckState::Failed
        } else if checks.is_empty() || checks.iter().any(|c| c.state == CheckState::Pending) {
            CheckState::Pending
        } else {
            CheckState::Passed
        }
    }
}
