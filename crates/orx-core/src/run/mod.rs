//! Runs on disk: ids, the run folder, meta.json, state.json, events, the lock, and the store.

mod events;
mod files;
mod id;
mod layout;
mod lock;
mod meta;
mod state;
mod store;
pub mod sys;

pub use events::{Event, EventSink, Listener};
pub use files::RunFiles;
pub use id::{RunId, is_valid_run_id, new_run_id};
pub use layout::RunDir;
pub use lock::RunLock;
pub use meta::{Meta, ToolVersions, summarize_task};
pub use state::{
    Failure, ItemState, ItemStatus, RunState, RunStatus, StageState, StageStatus, now_rfc3339,
};
pub use store::{DiffSource, RunSummary, Store};
