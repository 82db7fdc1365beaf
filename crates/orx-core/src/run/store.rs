//! The store: lists and reads run folders (used by `status`, `logs`, the dashboard).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::RunError;
use super::id::is_valid_run_id;
use super::{Meta, Observed, RunDir, RunLock, RunState, RunStatus};
use crate::Result;
use crate::metrics::{RunInput, RunTotals, StageRecord, read_stage_records};

/// The runs of one repository.
#[derive(Clone, Debug)]
pub struct Store {
    runs_root: PathBuf,
}

/// One line of `orx status`.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// Run id.
    pub run_id: String,
    /// Status as a reader sees it (`running` with no live driver is `interrupted`).
    pub status: Observed,
    /// Current or last stage.
    pub stage: Option<String>,
    /// Start time.
    pub started_at: Option<String>,
    /// Duration in seconds (to now for active runs).
    pub duration_secs: Option<f64>,
    /// Task summary.
    pub task: String,
}

impl Store {
    /// The store under `<repo>/runs`.
    pub fn new(repo: &Path) -> Self {
        Self {
            runs_root: repo.join("runs"),
        }
    }

    /// The runs folder.
    pub fn runs_root(&self) -> &Path {
        &self.runs_root
    }

    /// Where run `id`'s folder is (or would be), without checking anything.
    pub fn dir(&self, id: &str) -> RunDir {
        RunDir::new(&self.runs_root, id)
    }

    /// The folder of run `id`, after checking that the id is well formed and exists.
    pub fn open(&self, id: &str) -> Result<RunDir> {
        if !is_valid_run_id(id) {
            return Err(RunError::InvalidId {
                id: id.chars().take(64).collect(),
            }
            .into());
        }
        let dir = RunDir::new(&self.runs_root, id);
        if !dir.state().exists() {
            return Err(RunError::NotFound {
                id: id.to_string(),
                runs: self.runs_root.clone(),
            }
            .into());
        }
        Ok(dir)
    }

    /// The run a person means by `given`: a whole id, `last` (the newest run), or a unique
    /// prefix or suffix of an id (`20261130_0707`, `2b59d1f3`). Several matches are an error
    /// that lists them.
    pub fn resolve(&self, given: &str) -> Result<String> {
        if is_valid_run_id(given) && self.dir(given).state().exists() {
            return Ok(given.to_string());
        }
        let ids = self.ids()?;
        if given == "last" {
            return ids.into_iter().next().ok_or_else(|| {
                RunError::NoRuns {
                    runs: self.runs_root.clone(),
                }
                .into()
            });
        }
        let shaped = !given.is_empty()
            && given.len() <= 64
            && given
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !shaped {
            return Err(RunError::InvalidId {
                id: given.chars().take(64).collect(),
            }
            .into());
        }
        let matches: Vec<String> = ids
            .into_iter()
            .filter(|id| id.starts_with(given) || id.ends_with(given))
            .collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().unwrap_or_default()),
            0 => Err(RunError::NotFound {
                id: given.to_string(),
                runs: self.runs_root.clone(),
            }
            .into()),
            _ => Err(RunError::Ambiguous {
                given: given.to_string(),
                candidates: matches,
            }
            .into()),
        }
    }

    /// [`Store::open`] of the run `given` names ([`Store::resolve`]).
    pub fn find(&self, given: &str) -> Result<RunDir> {
        self.open(&self.resolve(given)?)
    }

    /// Every run id, newest first.
    pub fn ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        match fs_err::read_dir(&self.runs_root) {
            Ok(rd) => {
                for e in rd.flatten() {
                    if let Some(name) = e.file_name().to_str()
                        && is_valid_run_id(name)
                    {
                        ids.push(name.to_string());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        ids.sort_unstable_by(|a, b| b.cmp(a));
        Ok(ids)
    }

    /// Summaries of the newest `limit` runs. Unreadable runs are listed with status `corrupt`.
    pub fn list(&self, limit: usize) -> Result<Vec<RunSummary>> {
        Ok(self
            .ids()?
            .into_iter()
            .take(limit)
            .map(|id| self.summary(&id))
            .collect())
    }

    /// The summary of one run.
    pub fn summary(&self, id: &str) -> RunSummary {
        let dir = RunDir::new(&self.runs_root, id);
        let state = RunState::load(&dir.state()).ok();
        let meta = Meta::load(&dir.meta()).ok();
        let status = match &state {
            Some(s) => effective_status(&dir, s.status),
            None => Observed::Corrupt,
        };
        let started_at = meta.as_ref().map(|m| m.started_at.clone());
        let end = meta.as_ref().and_then(|m| m.ended_at.clone());
        let duration_secs = started_at.as_deref().and_then(|s| {
            let start: jiff::Timestamp = s.parse().ok()?;
            let end: jiff::Timestamp = match &end {
                Some(e) => e.parse().ok()?,
                None if status == Observed::Running => jiff::Timestamp::now(),
                None => state.as_ref()?.updated_at.parse().ok()?,
            };
            Some((end.as_millisecond() - start.as_millisecond()) as f64 / 1000.0)
        });
        RunSummary {
            run_id: id.to_string(),
            status,
            stage: state.as_ref().and_then(|s| s.current_stage.clone()),
            started_at,
            duration_secs,
            task: meta.map(|m| m.task_summary).unwrap_or_default(),
        }
    }
}

impl Store {
    /// The stage records of a run (metrics/stages.jsonl).
    pub fn stage_records(dir: &RunDir) -> Vec<StageRecord> {
        read_stage_records(&dir.stage_metrics())
    }

    /// The run's totals: metrics/run.json once it ended, summed from the stage records while it
    /// is live (or after a crash).
    pub fn run_metrics(dir: &RunDir) -> Option<RunTotals> {
        crate::fsutil::read_json(&dir.run_metrics())
            .ok()
            .or_else(|| {
                let records = Self::stage_records(dir);
                (!records.is_empty()).then(|| RunTotals::from_records(dir.id(), &records))
            })
    }

    /// The diff of a run: of one item (`W001`), or of the whole run. A live or interrupted run's
    /// worktree is read without touching its index; an ended run's saved patch is used.
    pub fn diff(dir: &RunDir, item: Option<&str>) -> Result<String> {
        Ok(Self::diff_capped(dir, item, usize::MAX)?.0)
    }

    /// [`Store::diff`] keeping at most `max` bytes; returns the text and the diff's whole size.
    pub fn diff_capped(dir: &RunDir, item: Option<&str>, max: usize) -> Result<(String, u64)> {
        match Self::diff_source(dir, item)? {
            DiffSource::File(path) => {
                let (text, size) = crate::fsutil::read_head(&path, max)?;
                Ok((text, size))
            }
            DiffSource::Live { git, base } => git.diff_readonly_capped(&base, max),
            DiffSource::Empty => Ok((String::new(), 0)),
        }
    }

    /// Where the diff of a run (or of one item) is: a saved file, or a live worktree whose
    /// diff [`Store::write_diff`] writes to a file of its own.
    pub fn diff_source(dir: &RunDir, item: Option<&str>) -> Result<DiffSource> {
        if let Some(item) = item {
            if !crate::protocol::is_item_id(item) {
                return Err(RunError::InvalidItem {
                    item: item.chars().take(40).collect(),
                }
                .into());
            }
            let path = dir.artifact(&format!("{item}.diff"));
            if path.exists() {
                return Ok(DiffSource::File(path));
            }
            // An item that has not made its diff yet has an empty one; an id the run does not
            // have is a mistake worth naming.
            let state = RunState::load(&dir.state())?;
            if state.item(item).is_none() {
                return Err(RunError::NoSuchItem {
                    item: item.to_string(),
                    items: state.items.iter().map(|i| i.id.clone()).collect(),
                }
                .into());
            }
            return Ok(DiffSource::Empty);
        }
        let state = RunState::load(&dir.state())?;
        let patch = dir.artifact("patch.diff");
        let live = state
            .worktree
            .as_ref()
            .filter(|w| std::path::Path::new(w).exists());
        match (live, &state.base_sha) {
            (Some(w), Some(base)) if !state.status.is_final() || !patch.exists() => {
                // Pinned to the worktree: a worktree whose .git is gone is not diffed as the
                // repository's own checkout.
                let repo = Meta::load(&dir.meta())
                    .map(|m| PathBuf::from(m.repo))
                    .ok()
                    .or_else(|| dir.root().parent()?.parent().map(PathBuf::from))
                    .unwrap_or_default();
                Ok(DiffSource::Live {
                    git: crate::git::Git::new(repo).worktree(w),
                    base: base.clone(),
                })
            }
            _ if patch.exists() => Ok(DiffSource::File(patch)),
            _ => Ok(DiffSource::Empty),
        }
    }

    /// Writes the whole diff of [`Store::diff_source`] to `out` (any size, in no memory) and
    /// returns the file to read: `out`, or the saved file itself.
    pub fn write_diff(source: &DiffSource, out: &std::path::Path) -> Result<Option<PathBuf>> {
        match source {
            DiffSource::File(p) => Ok(Some(p.clone())),
            DiffSource::Live { git, base } => {
                git.diff_readonly_to(base, out)?;
                Ok(Some(out.to_path_buf()))
            }
            DiffSource::Empty => Ok(None),
        }
    }

    /// What `orx metrics report` aggregates: every run's status, failure and stage records.
    pub fn report_inputs(&self) -> Result<Vec<RunInput>> {
        Ok(self
            .ids()?
            .into_iter()
            .map(|id| {
                let dir = RunDir::new(&self.runs_root, &id);
                let state = RunState::load(&dir.state()).ok();
                let status = match &state {
                    Some(s) => effective_status(&dir, s.status),
                    None => Observed::Corrupt,
                };
                let failure = state
                    .and_then(|s| s.last_failure)
                    .filter(|_| status == Observed::Failed)
                    .map(|f| f.category);
                RunInput {
                    run_id: id,
                    status,
                    failure,
                    records: Self::stage_records(&dir),
                }
            })
            .collect())
    }
}

/// Where a run's diff comes from.
#[derive(Debug)]
pub enum DiffSource {
    /// A saved patch (an ended run's, or an item's).
    File(PathBuf),
    /// The live worktree, against the run's base.
    Live {
        /// Git pinned to the worktree.
        git: crate::git::Git,
        /// The base commit.
        base: String,
    },
    /// Nothing yet.
    Empty,
}

/// `running` in state.json with no live lock holder means the driver died: `interrupted`.
pub fn effective_status(dir: &RunDir, status: RunStatus) -> Observed {
    let driven = status != RunStatus::Running || RunLock::live_holder(&dir.lock()).is_some();
    Observed::of(status, driven)
}
