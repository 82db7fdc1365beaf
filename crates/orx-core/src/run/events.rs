//! events.jsonl and the in-process listeners (the terminal progress display).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::now_rfc3339;
use crate::redact::Redactor;

/// One event, as written to events.jsonl.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// RFC 3339 time.
    pub ts: String,
    /// `run.started`, `stage.started`, `stage.finished`, `item.started`, `attempt.started`,
    /// `agent.finished`, `gate.finished`, `item.finished`, `ship`, `run.finished`, `warning`, …
    pub kind: String,
    /// The stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// A human sentence.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Structured details.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl Event {
    /// A new event of `kind` with `message`.
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Self {
            ts: now_rfc3339(),
            kind: kind.to_string(),
            stage: None,
            item: None,
            attempt: None,
            message: message.into(),
            data: serde_json::Value::Null,
        }
    }
    /// Sets the stage.
    pub fn stage(mut self, s: &str) -> Self {
        self.stage = Some(s.to_string());
        self
    }
    /// Sets the item.
    pub fn item(mut self, i: &str) -> Self {
        self.item = Some(i.to_string());
        self
    }
    /// Sets the attempt.
    pub fn attempt(mut self, a: u32) -> Self {
        self.attempt = Some(a);
        self
    }
    /// Sets the data.
    pub fn data(mut self, d: serde_json::Value) -> Self {
        self.data = d;
        self
    }
}

/// A listener called for every event (after it is on disk).
pub type Listener = Arc<dyn Fn(&Event) + Send + Sync>;

/// The one sink every event goes through: events.jsonl on disk, then the listeners.
#[derive(Clone)]
pub struct EventSink {
    path: Option<PathBuf>,
    listeners: Arc<Mutex<Vec<Listener>>>,
    redactor: Redactor,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink")
            .field("path", &self.path)
            .finish()
    }
}

impl EventSink {
    /// A sink writing to `path` (None: listeners only, for dry runs).
    pub fn new(path: Option<PathBuf>, redactor: Redactor) -> Self {
        Self {
            path,
            listeners: Arc::default(),
            redactor,
        }
    }

    /// Adds a listener.
    pub fn listen(&self, l: Listener) {
        if let Ok(mut ls) = self.listeners.lock() {
            ls.push(l);
        }
    }

    /// Writes `event` and notifies the listeners. A write failure is reported on the next
    /// checkpoint write rather than aborting the agent call that produced the event.
    pub fn emit(&self, mut event: Event) {
        event.message = self.redactor.redact(&event.message);
        if let Some(p) = &self.path
            && let Ok(line) = serde_json::to_string(&event)
        {
            let _ = crate::fsutil::append_line(p, &self.redactor.redact(&line));
        }
        let listeners = self.listeners.lock().map(|l| l.clone()).unwrap_or_default();
        for l in listeners {
            l(&event);
        }
    }
}
