//! Runs on disk: ids, the run folder and its writer, events, the lock, and the store. The data
//! of the files is in [`crate::protocol`] (re-exported here for the readers of run folders).

mod error;
mod events;
mod files;
pub mod followup;
mod id;
mod layout;
mod lock;
mod store;
pub mod sys;

pub use crate::protocol::{
    Event, EventBody, Failure, ItemPhase, ItemState, ItemStatus, Meta, Observed, RunState,
    RunStatus, StageState, StageStatus, ToolVersions, now_rfc3339, summarize_task,
};
pub use error::RunError;
pub use events::{EventSink, Listener};
pub use files::RunFiles;
pub use id::{RunId, is_valid_run_id, new_run_id};
pub use layout::RunDir;
pub use lock::RunLock;
pub use store::{DiffSource, RunSummary, Store};
