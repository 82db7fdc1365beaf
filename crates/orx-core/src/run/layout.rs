//! The run folder and the path of everything in it (SPEC §4).

use std::path::{Path, PathBuf};

use crate::Result;

/// `runs/<run_id>/` and its layout.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
    id: String,
}

impl RunDir {
    /// The run folder for `id` under `runs_root` (does not create it).
    pub fn new(runs_root: &Path, id: &str) -> Self {
        Self {
            root: runs_root.join(id),
            id: id.to_string(),
        }
    }

    /// Creates the folder and its sub-folders. Fails if the run folder already exists.
    pub fn create(&self) -> Result<()> {
        if let Some(parent) = self.root.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::create_dir(&self.root)?;
        for sub in ["context", "prompts", "artifacts", "logs", "metrics"] {
            fs_err::create_dir_all(self.root.join(sub))?;
        }
        Ok(())
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// meta.json.
    pub fn meta(&self) -> PathBuf {
        self.root.join("meta.json")
    }
    /// state.json.
    pub fn state(&self) -> PathBuf {
        self.root.join("state.json")
    }
    /// events.jsonl.
    pub fn events(&self) -> PathBuf {
        self.root.join("events.jsonl")
    }
    /// processes.jsonl: the run's live process groups (see [`crate::process::GroupLedger`]).
    pub fn processes(&self) -> PathBuf {
        self.root.join("processes.jsonl")
    }
    /// orx.lock.
    pub fn lock(&self) -> PathBuf {
        self.root.join("orx.lock")
    }
    /// context/<name>.
    pub fn context(&self, name: &str) -> PathBuf {
        self.root.join("context").join(name)
    }
    /// private/<name>: the run's own unredacted inputs (see [`super::RunFiles`]).
    pub fn private(&self, name: &str) -> PathBuf {
        self.root.join("private").join(name)
    }
    /// prompts/<name>.
    pub fn prompt(&self, name: &str) -> PathBuf {
        self.root.join("prompts").join(name)
    }
    /// artifacts/<name>.
    pub fn artifact(&self, name: &str) -> PathBuf {
        self.root.join("artifacts").join(name)
    }
    /// logs/<name>.
    pub fn log(&self, name: &str) -> PathBuf {
        self.root.join("logs").join(name)
    }
    /// metrics/stages.jsonl.
    pub fn stage_metrics(&self) -> PathBuf {
        self.root.join("metrics").join("stages.jsonl")
    }
    /// metrics/run.json.
    pub fn run_metrics(&self) -> PathBuf {
        self.root.join("metrics").join("run.json")
    }
    /// The suffix used in per-attempt file names: `_<item>_<attempt>` or empty.
    pub fn suffix(item: Option<&str>, attempt: Option<u32>) -> String {
        match (item, attempt) {
            (Some(i), Some(a)) => format!("_{i}_{a}"),
            (Some(i), None) => format!("_{i}"),
            (None, Some(a)) if a > 1 => format!("_{a}"),
            _ => String::new(),
        }
    }
}
