//! A cache of run summaries, so the runs page stays fast with thousands of runs.
//!
//! A run that has ended rarely changes (only `orx resume` or `orx clean` touch it again), so its
//! row is kept until its state.json changes; a live run is re-read on every refresh. `refresh`
//! reports which runs changed, which is what the live updates push.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use orx_core::run::{RunDir, RunState, Store};
use serde::Serialize;

/// One run as the runs page shows it.
#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    /// Run id.
    pub run_id: String,
    /// Effective status (`running`, `interrupted`, `succeeded`, …; `queued` for the queue).
    pub status: String,
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
    pub failure: Option<String>,
    /// Input + output tokens.
    pub tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
}

impl RunRow {
    /// True while a process drives the run.
    pub fn is_active(&self) -> bool {
        self.status == "running"
    }
}

#[derive(Debug)]
struct Entry {
    row: RunRow,
    stamp: Option<SystemTime>,
    search: String,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Newest first.
    order: Vec<String>,
}

/// The cache.
#[derive(Debug)]
pub struct RunIndex {
    store: Store,
    inner: RwLock<Inner>,
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
        let index = Self {
            store: Store::new(repo),
            inner: RwLock::new(Inner::default()),
        };
        index.refresh(true);
        index
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The runs folder.
    pub fn runs_root(&self) -> PathBuf {
        self.store.runs_root().to_path_buf()
    }

    /// Re-reads new runs and live ones; with `full`, also checks every ended run's state.json
    /// for a change (a resume from the command line, say). Returns the ids that changed.
    pub fn refresh(&self, full: bool) -> Vec<String> {
        let ids = self.store.ids().unwrap_or_default();
        let mut changed = Vec::new();
        let mut fresh: Vec<(String, Entry)> = Vec::new();
        {
            let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
            for id in &ids {
                let dir = RunDir::new(self.store.runs_root(), id);
                match inner.entries.get(id) {
                    Some(e) if !full && !e.row.is_active() && e.row.status != "pending" => {}
                    Some(e) => {
                        let stamp = stamp(&dir);
                        if e.row.is_active() || e.row.status == "pending" || stamp != e.stamp {
                            let entry = read_entry(&self.store, &dir, stamp);
                            if row_differs(&entry.row, &e.row) {
                                changed.push(id.clone());
                            }
                            fresh.push((id.clone(), entry));
                        }
                    }
                    None => {
                        let stamp = stamp(&dir);
                        changed.push(id.clone());
                        fresh.push((id.clone(), read_entry(&self.store, &dir, stamp)));
                    }
                }
            }
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for (id, entry) in fresh {
            inner.entries.insert(id, entry);
        }
        if inner.entries.len() != ids.len() {
            let keep: std::collections::HashSet<&String> = ids.iter().collect();
            inner.entries.retain(|id, _| keep.contains(id));
        }
        inner.order = ids;
        changed
    }

    /// Re-reads one run now (after the dashboard acted on it).
    pub fn touch(&self, id: &str) {
        let dir = RunDir::new(self.store.runs_root(), id);
        if !dir.state().exists() {
            return;
        }
        let entry = read_entry(&self.store, &dir, stamp(&dir));
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if !inner.entries.contains_key(id) {
            inner.order.push(id.to_string());
            inner.order.sort_unstable_by(|a, b| b.cmp(a));
        }
        inner.entries.insert(id.to_string(), entry);
    }

    /// One run's row.
    pub fn row(&self, id: &str) -> Option<RunRow> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.entries.get(id).map(|e| e.row.clone())
    }

    /// The runs that are live now.
    pub fn active(&self) -> Vec<RunRow> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner
            .order
            .iter()
            .filter_map(|id| inner.entries.get(id))
            .filter(|e| e.row.is_active())
            .map(|e| e.row.clone())
            .collect()
    }

    /// How many runs there are.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .order
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
        let mut total = 0;
        let mut runs = Vec::new();
        let skip = (page - 1) * per_page;
        for e in inner.order.iter().filter_map(|id| inner.entries.get(id)) {
            if !filter.status.is_empty() && e.row.status != filter.status {
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
        .filter(|_| summary.status == "failed")
        .map(|f| f.category.clone());
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
            .map(|m| m.tokens.input + m.tokens.output)
            .unwrap_or(0),
        cost_usd: metrics.as_ref().map(|m| m.cost_usd).unwrap_or(0.0),
        task: summary.task,
    };
    Entry {
        search: format!("{} {}", row.run_id, row.task.to_lowercase()),
        row,
        stamp,
    }
}
