//! The run's own backlog: `context/backlog.yaml` (kept whole in `private/`) and the items of the
//! checkpoint, which record each item's progress.

use super::{Backlog, Item};
use crate::Result;
use crate::pipeline::{Checkpoint, RunEnv};
use crate::protocol::{ItemState, ItemStatus};

/// The run's saved backlog, when there is a readable one.
pub fn load(env: &RunEnv) -> Option<Backlog> {
    let text = env.context_text(FILE)?;
    crate::yaml::from_str::<Backlog>(&text).ok()
}

/// Saves `backlog` as the run's.
pub fn save(env: &RunEnv, backlog: &Backlog) -> Result<()> {
    let yaml = serde_saphyr::to_string(backlog).map_err(std::io::Error::other)?;
    env.files.input(FILE, &yaml)
}

/// Adds `items` to the checkpoint (an item it knows keeps its progress) and saves it.
pub fn install(cp: &mut Checkpoint, items: &[Item]) -> Result<()> {
    let state = cp.state_mut();
    for it in items {
        if state.item(&it.id).is_none() {
            state.items.push(ItemState {
                id: it.id.clone(),
                title: it.title.clone(),
                status: ItemStatus::Pending,
                attempts: 0,
                start_commit: None,
                commit: None,
                phase: None,
                last_evidence: None,
                session: None,
            });
        }
    }
    cp.save()
}

/// The backlog's file among the run's inputs.
pub const FILE: &str = "backlog.yaml";
