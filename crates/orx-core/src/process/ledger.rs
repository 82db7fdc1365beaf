//! The process groups a run has alive, recorded in its run folder (`processes.jsonl`), so that
//! after its driver was killed (SIGKILL, out of memory, a closed lid) the next orx that takes the
//! run ends them before anything else starts: no old agent goes on editing the worktree beside a
//! new one.
//!
//! Every child of a run carries `ORX_RUN_ID=<id>` in its environment, and so do its own children.
//! A recorded group is ended only when one of its processes still carries that mark: a group id
//! the system has since given to an unrelated process is never hit.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::run::sys::{SIGKILL, SIGTERM, signal_group};

/// How long the process groups a killed driver left get between SIGTERM and SIGKILL.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(2);

/// The environment variable that marks a run's processes.
pub const RUN_MARK: &str = "ORX_RUN_ID";

/// One line of the ledger: a group started, or ended.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    /// The process group (its leader's pid).
    pgid: u32,
    /// True when the group started, false when it ended.
    alive: bool,
}

/// Where one run's process groups are recorded.
#[derive(Clone, Debug)]
pub struct GroupLedger {
    path: PathBuf,
    run_id: String,
}

impl GroupLedger {
    /// The ledger at `path` of run `run_id`.
    pub fn new(path: impl Into<PathBuf>, run_id: &str) -> Self {
        Self {
            path: path.into(),
            run_id: run_id.to_string(),
        }
    }

    /// The run whose processes are marked.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Records that group `pgid` started. A ledger that cannot be written loses only this safety
    /// net, never the child's work.
    pub(super) fn started(&self, pgid: u32) {
        self.append(Entry { pgid, alive: true });
    }

    /// Records that group `pgid` ended (nothing of it is left).
    pub(super) fn ended(&self, pgid: u32) {
        self.append(Entry { pgid, alive: false });
    }

    fn append(&self, e: Entry) {
        let _ = crate::fsutil::append_json(&self.path, &e);
    }

    /// The groups recorded as started and not ended.
    fn recorded(&self) -> Vec<u32> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut alive: Vec<u32> = Vec::new();
        // A torn last line (a driver killed mid-write) is skipped like any unreadable one.
        for e in text
            .lines()
            .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
        {
            if e.alive {
                alive.push(e.pgid);
            } else {
                alive.retain(|g| *g != e.pgid);
            }
        }
        alive.dedup();
        alive
    }

    /// Ends every recorded group that still holds a process of this run (SIGTERM, then SIGKILL
    /// after `grace`), waits until they are gone (a few seconds at most), and empties the ledger.
    /// Returns the groups it ended. Call it holding the run's lock, before anything starts.
    pub fn end_orphans(&self, grace: Duration) -> Vec<u32> {
        let ours: Vec<u32> = self
            .recorded()
            .into_iter()
            .filter(|g| group_is_marked(*g, &self.run_id))
            .collect();
        for g in &ours {
            signal_group(*g, SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && ours.iter().any(|g| group_members(*g).next().is_some()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        for g in &ours {
            signal_group(*g, SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && ours.iter().any(|g| group_members(*g).next().is_some()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(&self.path);
        ours
    }
}

/// The live processes (zombies left out) whose process group is `pgid`.
fn group_members(pgid: u32) -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(move |pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.len() > 2
                && !fields[0].starts_with(['Z', 'X'])
                && fields[2].parse::<u32>().ok() == Some(pgid)
        })
}

/// True when a live process of group `pgid` carries this run's mark in its environment.
fn group_is_marked(pgid: u32, run_id: &str) -> bool {
    let mark = format!("{RUN_MARK}={run_id}");
    group_members(pgid).any(|pid| environ_has(Path::new(&format!("/proc/{pid}/environ")), &mark))
}

fn environ_has(path: &Path, entry: &str) -> bool {
    std::fs::read(path)
        .is_ok_and(|bytes| bytes.split(|b| *b == 0).any(|var| var == entry.as_bytes()))
}
