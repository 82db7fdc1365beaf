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

/// A call in flight, counted against the day's budget at `usd` by the other runs until its
/// real cost is in the ledger; the reservation goes when this is dropped (after the record).
#[derive(Debug)]
pub struct Reservation {
    path: PathBuf,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A reservation as its file holds it.
#[derive(Debug, Serialize, Deserialize)]
struct Held {
    pid: u32,
    usd: f64,
}

/// What `reserve_day` decided.
#[derive(Debug)]
pub enum DayCheck {
    /// The call may start; its reservation counts until it is dropped.
    Go(Reservation),
    /// Today's spending reached the limit.
    Reached(f64),
    /// Today's spending with the other runs' calls in flight would reach the limit: try again
    /// once they have ended (their real cost may leave room).
    Busy,
}

/// Before a call of `run_id`, under the ledger's lock: today's spending and the calls other
/// runs have in flight (each at its estimate) against `allowed`. Room left: the call is
/// reserved at `estimate` (a call of unknown cost is reserved as infinite: no other run starts
/// one while it is in flight). Reservations of processes that died are dropped.
pub fn reserve_day(
    runs_root: &Path,
    run_id: &str,
    allowed: f64,
    estimate: Option<f64>,
) -> crate::Result<DayCheck> {
    let dir = runs_root.join(".ledger").join("inflight");
    fs_err::create_dir_all(&dir)?;
    let guard = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(runs_root.join(".ledger").join(".lock"))?;
    guard.file().lock()?;
    let spent = day_spend(runs_root);
    if spent >= allowed {
        return Ok(DayCheck::Reached(spent));
    }
    let mut in_flight = 0.0;
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let path = entry.path();
        if path.file_stem().is_some_and(|s| s == run_id) {
            continue;
        }
        let held = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<Held>(&t).ok());
        match held {
            Some(h) if crate::run::sys::pid_alive(h.pid) => in_flight += h.usd,
            // A driver killed during its call: its reservation is stale.
            _ => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    if in_flight > 0.0 && spent + in_flight >= allowed {
        return Ok(DayCheck::Busy);
    }
    let path = dir.join(format!("{run_id}.json"));
    let held = Held {
        pid: std::process::id(),
        usd: estimate.unwrap_or(f64::MAX),
    };
    crate::fsutil::atomic_write_json(&path, &held)?;
    Ok(DayCheck::Go(Reservation { path }))
}

/// What one agent call spent on average in this repository's recent days.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PerCall {
    /// USD per call (0 when no model of those calls had a price).
    pub usd: f64,
    /// Tokens per call.
    pub tokens: u64,
    /// The calls averaged.
    pub calls: u64,
}

/// The average call of the last `days` day ledgers that exist, if any call was recorded.
pub fn per_call(runs_root: &Path, days: usize) -> Option<PerCall> {
    let dir = runs_root.join(".ledger");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let (mut usd, mut tokens, mut calls) = (0.0, 0u64, 0u64);
    for f in files.iter().rev().take(days) {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for e in text
            .lines()
            .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
        {
            usd += e.usd;
            tokens = tokens.saturating_add(e.tokens);
            calls += 1;
        }
    }
    (calls > 0).then(|| PerCall {
        usd: usd / calls as f64,
        tokens: tokens / calls,
        calls,
    })
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
    fn a_call_in_flight_counts_for_other_runs_until_it_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        record(
            root,
            "a",
            Spend {
                usd: 1.0,
                tokens: 1,
            },
        )
        .unwrap();
        let go = |d: DayCheck| match d {
            DayCheck::Go(r) => r,
            other => panic!("{other:?}"),
        };
        // Room for half a dollar: a's call reserved at 0.75 leaves b none.
        let a = go(reserve_day(root, "a", 1.5, Some(0.75)).unwrap());
        assert!(matches!(
            reserve_day(root, "b", 1.5, Some(0.75)).unwrap(),
            DayCheck::Busy
        ));
        assert!(matches!(
            reserve_day(root, "b", 3.0, Some(0.75)).unwrap(),
            DayCheck::Go(_)
        ));
        // Recorded, then released: b sees the real total.
        record(
            root,
            "a",
            Spend {
                usd: 1.25,
                tokens: 1,
            },
        )
        .unwrap();
        drop(a);
        assert!(matches!(
            reserve_day(root, "b", 2.0, Some(0.75)).unwrap(),
            DayCheck::Reached(x) if x == 2.25
        ));
        // A call of unknown cost holds the others until it ends; a dead driver's does not.
        let c = go(reserve_day(root, "c", 9.0, None).unwrap());
        assert!(matches!(
            reserve_day(root, "d", 9.0, Some(0.1)).unwrap(),
            DayCheck::Busy
        ));
        let held = root.join(".ledger/inflight/c.json");
        std::fs::write(&held, r#"{"pid": 4194303, "usd": 1e300}"#).unwrap();
        assert!(matches!(
            reserve_day(root, "d", 9.0, Some(0.1)).unwrap(),
            DayCheck::Go(_)
        ));
        assert!(!held.exists(), "the stale reservation is gone");
        drop(c);
    }

    #[test]
    fn the_day_ledger_sums_every_runs_calls() {
        let dir = tempfile::tempdir().unwrap();
        for (run, usd) in [("a", 0.25), ("b", 0.5), ("a", 0.125)] {
            record(dir.path(), run, Spend { usd, tokens: 10 }).unwrap();
        }
        assert_eq!(day_spend(dir.path()), 0.875);
        // An older day counts in the average of a call, not in today's spending.
        let old = dir.path().join(".ledger/2020-01-01.jsonl");
        std::fs::write(
            &old,
            "{\"run_id\":\"z\",\"usd\":1.125,\"tokens\":50}\nnot json\n",
        )
        .unwrap();
        assert_eq!(day_spend(dir.path()), 0.875);
        assert_eq!(
            per_call(dir.path(), 30),
            Some(PerCall {
                usd: 0.5,
                tokens: 20,
                calls: 4
            })
        );
        assert_eq!(per_call(dir.path(), 1).map(|p| p.calls), Some(3));
        assert_eq!(per_call(&dir.path().join("none"), 30), None);
    }
}
