//! orx-core: everything orx knows and does, with no terminal or web code.
//!
//! The CLI (and later the dashboard) call into this crate; nothing here knows who calls it.

pub mod agent;
pub mod budget;
pub mod cancel;
pub mod config;
pub mod context;
pub mod demo;
pub mod doctor;
pub mod error;
pub mod fault;
pub mod fsutil;
pub mod gate;
pub mod git;
pub mod guardrails;
pub mod knowledge;
pub mod land;
pub mod launch;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod process;
pub mod prompt;
pub mod protocol;
pub mod redact;
pub mod run;
pub mod yaml;

pub use error::{Error, GitError, PipelineError, Result, RunError};
