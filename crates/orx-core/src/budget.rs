//! Spending limits (SPEC §16): before each agent call the run's spending so far, and the
//! repository's spending today across runs, are compared with `budget`. The run's spending is
//! read from its own event log (every agent call's cost and tokens are there); the day's from
//! one ledger per day under `runs/.ledger/`, appended by every run after each call (lines of a
//! few dozen bytes, appended with O_APPEND: concurrent runs do not tear them).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::BudgetConfig;
use crate::protocol::{BudgetRaise, Event, EventBody};

/// Money and tokens spent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spend {
    /// USD.
    pub usd: f64,
    /// Tokens, input and output.
    pub tokens: u64,
}

/// A limit that was reached.
#[derive(Clone, Debug, PartialEq)]
pub struct Reached {
    /// Which limit (`run_usd`, `run_tokens`, `day_usd`).
    pub limit: Limit,
    /// What was spent.
    pub used: f64,
    /// The limit, with the run's raises.
    pub allowed: f64,
}

/// The budget's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// USD per run.
    RunUsd,
    /// Tokens per run.
    RunTokens,
    /// USD per day, across the repository's runs.
    DayUsd,
}

impl std::fmt::Display for Reached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.limit {
            Limit::RunUsd => write!(
                f,
                "the run's budget is reached: ${:.4} spent of ${:.4} (budget.run_usd)",
                self.used, self.allowed
            ),
            Limit::RunTokens => write!(
                f,
                "the run's token budget is reached: {} tokens of {} (budget.run_tokens)",
                self.used as u64, self.allowed as u64
            ),
            Limit::DayUsd => write!(
                f,
                "today's budget is reached: ${:.4} spent today across runs of ${:.4} (budget.day_usd)",
                self.used, self.allowed
            ),
        }
    }
}

/// The first limit of `budget` that `run` (this run) or `day` (the repository today) reached,
/// with the run's raises added to every limit.
pub fn check(budget: &BudgetConfig, raise: &BudgetRaise, run: Spend, day: f64) -> Option<Reached> {
    let over = |limit: Limit, used: f64, allowed: Option<f64>, extra: f64| {
        let allowed = allowed? + extra;
        (used >= allowed).then_some(Reached {
            limit,
            used,
            allowed,
        })
    };
    over(Limit::RunUsd, run.usd, budget.run_usd, raise.usd)
        .or_else(|| {
            over(
                Limit::RunTokens,
                run.tokens as f64,
                budget.run_tokens.map(|t| t as f64),
                raise.tokens as f64,
            )
        })
        .or_else(|| over(Limit::DayUsd, day, budget.day_usd, raise.usd))
}

/// What a run spent, from its event log.
pub fn run_spend(events: &Path) -> Spend {
    let Ok(text) = std::fs::read_to_string(events) else {
        return Spend::default();
    };
    let mut s = Spend::default();
    for line in text.lines().filter(|l| l.contains("\"agent.finished\"")) {
        if let Ok(e) = serde_json::from_str::<Event>(line)
            && let EventBody::AgentFinished(call) = e.body
        {
            s.usd += call.cost_usd;
            s.tokens += call.tokens.input + call.tokens.output;
        }
    }
    s
}

/// One agent call in the day's ledger.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    run_id: String,
    usd: f64,
    tokens: u64,
}

/// The repository's ledger of `day` (YYYY-MM-DD, local).
fn ledger(runs_root: &Path, day: &str) -> PathBuf {
    runs_root.join(".ledger").join(format!("{day}.jsonl"))
}

/// Today's date in the local zone.
pub fn today() -> String {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d")
        .to_string()
}

/// Records a call's spending in the day's ledger.
pub fn record(runs_root: &Path, run_id: &str, spend: Spend) -> crate::Result<()> {
    let path = ledger(runs_root, &today());
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    crate::fsutil::append_json(
        &path,
        &Entry {
            run_id: run_id.to_string(),
            usd: spend.usd,
            tokens: spend.tokens,
        },
    )
}

/// What the repository's runs spent today.
pub fn day_spend(runs_root: &Path) -> f64 {
    let Ok(text) = std::fs::read_to_string(ledger(runs_root, &today())) else {
        return 0.0;
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
        .map(|e| e.usd)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(run_usd: Option<f64>, run_tokens: Option<u64>, day_usd: Option<f64>) -> BudgetConfig {
        BudgetConfig {
            run_usd,
            run_tokens,
            day_usd,
            hard: false,
        }
    }

    #[test]
    fn each_limit_is_reached_at_its_value_and_raised_by_approvals() {
        let none = BudgetRaise::default();
        let spent = Spend {
            usd: 0.5,
            tokens: 1000,
        };
        assert_eq!(check(&budget(None, None, None), &none, spent, 9.0), None);
        let r = check(&budget(Some(0.5), None, None), &none, spent, 0.0).unwrap();
        assert_eq!(r.limit, Limit::RunUsd);
        assert_eq!(
            r.to_string(),
            "the run's budget is reached: $0.5000 spent of $0.5000 (budget.run_usd)"
        );
        let raised = BudgetRaise {
            usd: 0.25,
            tokens: 0,
        };
        assert_eq!(
            check(&budget(Some(0.5), None, None), &raised, spent, 0.0),
            None
        );
        assert_eq!(
            check(&budget(None, Some(1000), None), &none, spent, 0.0).map(|r| r.limit),
            Some(Limit::RunTokens)
        );
        assert_eq!(
            check(&budget(None, None, Some(2.0)), &none, spent, 2.5).map(|r| r.limit),
            Some(Limit::DayUsd)
        );
    }

    #[test]
    fn the_day_ledger_sums_every_runs_calls() {
        let dir = tempfile::tempdir().unwrap();
        for (run, usd) in [("a", 0.25), ("b", 0.5), ("a", 0.125)] {
            record(dir.path(), run, Spend { usd, tokens: 10 }).unwrap();
        }
        assert_eq!(day_spend(dir.path()), 0.875);
    }
}
