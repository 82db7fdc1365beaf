//! A cache of run summaries, so the runs page stays fast with thousands of runs.
//!
//! A run that has ended rarely changes (only `orx resume` or `orx clean` touch it again), so its
//! row is kept until its state.json changes; a live run is re-read on every refresh. `refresh`
//! reports which runs changed, which is what the live updates push.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use orx_core::protocol::{FailureCategory, Observed};
use orx_core::run::{RunDir, RunState, Store};
use serde::Serialize;

/// One run as the runs page shows it.
#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    /// Run id.
    pub run_id: String,
    /// Status as a reader sees it (`queued` for the dashboard's queue).
    pub status: Observed,
    /// Current or last stage.
    pub stage: Option<String>,
    /// The current item.
    pub item: Option<String>,
    /// Its attempt.
    pub attempt: Option<u32>,
    /// Start time (RFC 3339).
    pub started_at: Option<String>,
    /// Seconds (to the last update for live runs).
    pub duration_secs: Option<f64>,
    /// The task summary.
    pub task: String,
    /// The failure category of a failed run.
    pub failure: Option<FailureCategory>,
    /// Input + output tokens.
    pub tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// What a waiting run waits for, in words.
    pub waiting_for: Option<String>,
    /// Its waterfall in small: each stage and attempt recorded, as (start, width) shares of
    /// the run's time and how it ended.
    #[serde(skip)]
    pub bars: Vec<(f32, f32, crate::svg::Outcome)>,
}

/// The small waterfall of a run's stage records (see [`RunRow::bars`]).
fn mini_bars(records: &[orx_core::metrics::StageRecord]) -> Vec<(f32, f32, crate::svg::Outcome)> {
    use crate::svg::Outcome;
    use orx_core::protocol::AttemptStatus;
    let at = |t: &str| t.parse::<jiff::Timestamp>().ok();
    let spans: Vec<(jiff::Timestamp, f64, Outcome)> = records
        .iter()
        .filter_map(|r| {
            let outcome = match r.status {
                AttemptStatus::Ok => Outcome::Ok,
                AttemptStatus::Failed => Outcome::Failed,
                AttemptStatus::Cancelled | AttemptStatus::Skipped => Outcome::Other,
            };
            Some((at(&r.started_at)?, r.duration_secs, outcome))
        })
        .collect();
    let Some(t0) = spans.iter().map(|s| s.0).min() else {
        return Vec::new();
    };
    let end = spans
        .iter()
        .map(|(t, d, _)| t.duration_since(t0).as_secs_f64() + d)
        .fold(0.0_f64, f64::max)
        .max(0.001);
    spans
        .iter()
        .map(|(t, d, o)| {
            let x = t.duration_since(t0).as_secs_f64() / end;
            (x as f32, (d / end) as f32, *o)
        })
        .collect()
}

impl RunRow {
    /// True while a process drives the run.
    pub fn is_active(&self) -> bool {
        self.status == Observed::Running
    }
}

#[derive(Debug)]
struct Entry {
    row: RunRow,
    stamp: Option<SystemTime>,
    search: String,
}

/// The rows, newest first, in one contiguous vector (a scan of 10,000 rows stays in cache-friendly
/// order), and where each id is.
#[derive(Debug, Default)]
struct Inner {
    rows: Vec<Entry>,
    pos: HashMap<String, usize>,
}

impl Inner {
    fn get(&self, id: &str) -> Option<&Entry> {
        self.pos.get(id).and_then(|i| self.rows.get(*i))
    }

    /// Puts the rows in the order of `ids` (newest first), keeping known entries and adding
    /// `fresh` ones.
    fn rebuild(&mut self, ids: &[String], mut fresh: HashMap<String, Entry>) {
        let mut old: HashMap<String, Entry> = std::mem::take(&mut self.rows)
            .into_iter()
            .map(|e| (e.row.run_id.clone(), e))
            .collect();
        self.rows = ids
            .iter()
            .filter_map(|id| fresh.remove(id).or_else(|| old.remove(id)))
            .collect();
        self.pos = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, e)| (e.row.run_id.clone(), i))
            .collect();
    }
}

/// The cache.
#[derive(Debug)]
pub struct RunIndex {
    store: Store,
    inner: RwLock<Inner>,
    /// While only the newest runs are read: how many runs there are (0 once all are read).
    filling: AtomicUsize,
}

/// A page of rows.
#[derive(Clone, Debug, Serialize)]
pub struct Page {
    /// The rows.
    pub runs: Vec<RunRow>,
    /// Rows matching the filter.
    pub total: usize,
    /// 1-based page.
    pub page: usize,
    /// Rows per page.
    pub per_page: usize,
}

/// A filter of the runs list.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Filter {
    /// Status (empty: all).
    #[serde(default)]
    pub status: String,
    /// Text searched in the task and the id (case-insensitive).
    #[serde(default)]
    pub q: String,
    /// 1-based page.
    #[serde(default)]
    pub page: Option<usize>,
    /// Rows per page (at most 200).
    #[serde(default)]
    pub per_page: Option<usize>,
}

impl RunIndex {
    /// Reads every run of `repo` once.
    pub fn new(repo: &Path) -> Self {
        let index = Self::newest(repo, 0);
        index.refresh(true);
        index
    }

    /// Reads the newest `first` runs of `repo` only (0: none), so a page can answer at once;
    /// the next [`RunIndex::refresh`] reads the rest.
    pub fn newest(repo: &Path, first: usize) -> Self {
        let index = Self {
            store: Store::new(repo),
            inner: RwLock::new(Inner::default()),
            filling: AtomicUsize::new(0),
        };
        let ids = index.store.ids().unwrap_or_default();
        if first > 0 {
            let head = &ids[..first.min(ids.len())];
            let fresh = head
                .iter()
                .map(|id| {
                    let dir = RunDir::new(index.store.runs_root(), id);
                    (id.clone(), read_entry(&index.store, &dir, stamp(&dir)))
                })
                .collect();
            index
                .inner
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .rebuild(head, fresh);
            if ids.len() > first {
                index.filling.store(ids.len(), Ordering::SeqCst);
            }
        }
        index
    }

    /// While only the newest runs are read: how many runs there are in all.
    pub fn filling(&self) -> Option<usize> {
        Some(self.filling.load(Ordering::SeqCst)).filter(|n| *n > 0)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Where run `id`'s folder is (or would be).
    pub fn dir(&self, id: &str) -> RunDir {
        self.store.dir(id)
    }

    /// The runs folder.
    pub fn runs_root(&self) -> PathBuf {
        self.store.runs_root().to_path_buf()
    }

    /// Re-reads new runs and live ones; with `full`, also checks every ended run's state.json
    /// for a change (a resume from the command line, say). Returns the ids that changed.
    pub fn refresh(&self, full: bool) -> Vec<String> {
        // An unreadable runs folder (for a moment) keeps the rows as they are.
        let Ok(ids) = self.store.ids() else {
            return Vec::new();
        };
        let mut changed = Vec::new();
        let mut fresh: HashMap<String, Entry> = HashMap::new();
        let same_order;
        {
            let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
            same_order = inner.rows.len() == ids.len()
                && inner
                    .rows
                    .iter()
                    .zip(&ids)
                    .all(|(e, id)| e.row.run_id == *id);
            for id in &ids {
                let dir = RunDir::new(self.store.runs_root(), id);
                // Live, pending and interrupted runs are re-read every time (an interrupted run
                // turns live when a driver takes its lock, which state.json does not show).
                let watch = |e: &Entry| {
                    e.row.is_active()
                        || matches!(e.row.status, Observed::Pending | Observed::Interrupted)
                };
                match inner.get(id) {
                    Some(e) if !full && !watch(e) => {}
                    Some(e) => {
                        let stamp = stamp(&dir);
                        if watch(e) || stamp != e.stamp {
                            let entry = read_entry(&self.store, &dir, stamp);
                            if stamp != e.stamp || row_differs(&entry.row, &e.row) {
                                changed.push(id.clone());
                            }
                            fresh.insert(id.clone(), entry);
                        }
                    }
                    None => {
                        let stamp = stamp(&dir);
                        changed.push(id.clone());
                        fresh.insert(id.clone(), read_entry(&self.store, &dir, stamp));
                    }
                }
            }
        }
        if !same_order {
            // Runs that were removed (`orx clean`) are announced too.
            let now: std::collections::HashSet<&String> = ids.iter().collect();
            let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
            changed.extend(
                inner
                    .rows
                    .iter()
                    .filter(|e| !now.contains(&e.row.run_id))
                    .map(|e| e.row.run_id.clone()),
            );
        }
        if same_order && fresh.is_empty() {
            return changed;
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if same_order {
            for (id, entry) in fresh {
                if let Some(i) = inner.pos.get(&id).copied() {
                    inner.rows[i] = entry;
                }
            }
        } else {
            inner.rebuild(&ids, fresh);
        }
        // Every run is read now.
        self.filling.store(0, Ordering::SeqCst);
        changed
    }

    /// Re-reads one run now (after the dashboard acted on it, or for a page). True when its row
    /// changed: the watcher will not see that change any more, so the caller announces it.
    pub fn touch(&self, id: &str) -> bool {
        let dir = RunDir::new(self.store.runs_root(), id);
        if !dir.state().exists() {
            return false;
        }
        let entry = read_entry(&self.store, &dir, stamp(&dir));
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        match inner.pos.get(id).copied() {
            Some(i) => {
                let changed = entry.stamp != inner.rows[i].stamp
                    || row_differs(&entry.row, &inner.rows[i].row);
                inner.rows[i] = entry;
                changed
            }
            None => {
                let mut ids: Vec<String> =
                    inner.rows.iter().map(|e| e.row.run_id.clone()).collect();
                ids.push(id.to_string());
                ids.sort_unstable_by(|a, b| b.cmp(a));
                let fresh = HashMap::from([(id.to_string(), entry)]);
                inner.rebuild(&ids, fresh);
                true
            }
        }
    }

    /// One run's row.
    pub fn row(&self, id: &str) -> Option<RunRow> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.get(id).map(|e| e.row.clone())
    }

    /// The runs that are live now.
    pub fn active(&self) -> Vec<RunRow> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner
            .rows
            .iter()
            .filter(|e| e.row.is_active())
            .map(|e| e.row.clone())
            .collect()
    }

    /// The runs that wait for a person, newest first.
    pub fn waiting(&self) -> Vec<RunRow> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner
            .rows
            .iter()
            .filter(|e| e.row.status == Observed::Waiting)
            .map(|e| e.row.clone())
            .collect()
    }

    /// How many runs there are.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .rows
            .len()
    }

    /// True when there is no run.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One page of the runs that match `filter`, newest first.
    pub fn page(&self, filter: &Filter) -> Page {
        let per_page = filter.per_page.unwrap_or(50).clamp(1, 200);
        let page = filter.page.unwrap_or(1).max(1);
        let q = filter.q.trim().to_lowercase();
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let skip = (page - 1).saturating_mul(per_page);
        if filter.status.is_empty() && q.is_empty() {
            let runs = inner
                .rows
                .iter()
                .skip(skip)
                .take(per_page)
                .map(|e| e.row.clone())
                .collect();
            return Page {
                runs,
                total: inner.rows.len(),
                page,
                per_page,
            };
        }
        let wanted = Observed::parse(filter.status.trim());
        let mut total = 0;
        let mut runs = Vec::new();
        for e in &inner.rows {
            if !filter.status.is_empty() && Some(e.row.status) != wanted {
                continue;
            }
            if !q.is_empty() && !e.search.contains(&q) {
                continue;
            }
            if total >= skip && runs.len() < per_page {
                runs.push(e.row.clone());
            }
            total += 1;
        }
        Page {
            runs,
            total,
            page,
            per_page,
        }
    }
}

fn stamp(dir: &RunDir) -> Option<SystemTime> {
    let state = std::fs::metadata(dir.state())
        .and_then(|m| m.modified())
        .ok();
    let meta = std::fs::metadata(dir.meta())
        .and_then(|m| m.modified())
        .ok();
    state.max(meta)
}

fn row_differs(a: &RunRow, b: &RunRow) -> bool {
    a.status != b.status
        || a.stage != b.stage
        || a.item != b.item
        || a.attempt != b.attempt
        || a.tokens != b.tokens
        || a.failure != b.failure
        || a.cost_usd != b.cost_usd
        || a.waiting_for != b.waiting_for
        || a.bars.len() != b.bars.len()
}

fn read_entry(store: &Store, dir: &RunDir, stamp: Option<SystemTime>) -> Entry {
    let summary = store.summary(dir.id());
    let state = RunState::load(&dir.state()).ok();
    let metrics = Store::run_metrics(dir);
    let (item, attempt) = state
        .as_ref()
        .and_then(|s| {
            let id = s.current_item.clone()?;
            let attempts = s.item(&id).map(|i| i.attempts);
            Some((Some(id), attempts))
        })
        .unwrap_or((None, None));
    let failure = state
        .as_ref()
        .and_then(|s| s.last_failure.as_ref())
        .filter(|_| summary.status == Observed::Failed)
        .map(|f| f.category);
    let row = RunRow {
        run_id: summary.run_id,
        status: summary.status,
        stage: summary.stage,
        item,
        attempt,
        started_at: summary.started_at,
        duration_secs: summary.duration_secs,
        failure,
        tokens: metrics
            .as_ref()
            .map(|m| m.tokens.input.saturating_add(m.tokens.output))
            .unwrap_or(0),
        cost_usd: metrics.as_ref().map(|m| m.cost_usd).unwrap_or(0.0),
        waiting_for: state
            .as_ref()
            .filter(|_| summary.status == Observed::Waiting)
            .map(|s| s.waiting_for.clone().unwrap_or_default()),
        task: summary.task,
        bars: mini_bars(&Store::stage_records(dir)),
    };
    Entry {
        search: format!("{} {}", row.run_id, row.task.to_lowercase()),
        row,
        stamp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orx_core::run::RunStatus;

    fn run(root: &Path, id: &str, status: RunStatus) {
        let dir = RunDir::new(&root.join("runs"), id);
        if !dir.root().exists() {
            dir.create().unwrap();
        }
        let mut st = RunState::new(id, "standard", &["plan".to_string()]);
        st.status = status;
        orx_core::run::RunFiles::new(dir.clone(), Default::default())
            .save_state(&mut st, false)
            .unwrap();
    }

    #[test]
    fn rows_stay_newest_first_through_additions_changes_and_removals() {
        let t = tempfile::tempdir().unwrap();
        let a = "20261126_100000_0000000a";
        let b = "20261126_110000_0000000b";
        let c = "20261126_120000_0000000c";
        run(t.path(), a, RunStatus::Succeeded);
        run(t.path(), c, RunStatus::Failed);
        let index = RunIndex::new(t.path());
        let ids = |p: Page| p.runs.into_iter().map(|r| r.run_id).collect::<Vec<_>>();
        assert_eq!(ids(index.page(&Filter::default())), [c, a]);
        run(t.path(), b, RunStatus::Succeeded);
        assert_eq!(index.refresh(false), [b]);
        assert_eq!(ids(index.page(&Filter::default())), [c, b, a]);
        assert_eq!(
            index.refresh(false),
            Vec::<String>::new(),
            "nothing changed"
        );
        // An ended run changed from outside is seen by the full pass.
        std::thread::sleep(std::time::Duration::from_millis(20));
        run(t.path(), a, RunStatus::Cancelled);
        assert_eq!(index.refresh(true), [a]);
        assert_eq!(index.row(a).unwrap().status, Observed::Cancelled);
        std::fs::remove_dir_all(t.path().join("runs").join(c)).unwrap();
        index.refresh(false);
        assert_eq!(ids(index.page(&Filter::default())), [b, a]);
        assert!(index.row(c).is_none());
        let failed = Filter {
            status: "succeeded".into(),
            ..Filter::default()
        };
        assert_eq!(ids(index.page(&failed)), [b]);
        let paged = Filter {
            per_page: Some(1),
            page: Some(2),
            ..Filter::default()
        };
        let p = index.page(&paged);
        assert_eq!((p.total, ids(p)), (2, vec![a.to_string()]));
        let q = Filter {
            q: "0000000B".into(),
            ..Filter::default()
        };
        assert_eq!(ids(index.page(&q)), [b], "search ignores case");
    }

    #[test]
    fn the_newest_runs_answer_first_and_the_next_refresh_reads_the_rest() {
        let t = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..5)
            .map(|n| format!("20261126_10000{n}_0000000{n}"))
            .collect();
        for id in &ids {
            run(t.path(), id, RunStatus::Succeeded);
        }
        let index = RunIndex::newest(t.path(), 2);
        let listed = |i: &RunIndex| {
            i.page(&Filter::default())
                .runs
                .into_iter()
                .map(|r| r.run_id)
                .collect::<Vec<_>>()
        };
        assert_eq!(listed(&index), [ids[4].clone(), ids[3].clone()]);
        assert_eq!(index.filling(), Some(5));
        // An older run's page still finds it (touch), before the rest is read.
        assert!(index.touch(&ids[0]));
        assert_eq!(index.len(), 3);
        index.refresh(false);
        assert_eq!(index.filling(), None);
        assert_eq!(listed(&index).len(), 5);
        // Fewer runs than asked for: all of them at once.
        let small = RunIndex::newest(t.path(), 10);
        assert_eq!((small.len(), small.filling()), (5, None));
    }
}
