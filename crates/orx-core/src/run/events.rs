//! events.jsonl and the in-process listeners (the terminal progress display).

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::{RunFiles, now_rfc3339};

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

/// The one sink every event goes through: redacted, written to events.jsonl, then given to the
/// listeners.
#[derive(Clone)]
pub struct EventSink {
    files: Option<RunFiles>,
    listeners: Arc<Mutex<Vec<Listener>>>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink")
            .field(
                "dir",
                &self.files.as_ref().map(|f| f.dir().root().to_path_buf()),
            )
            .finish()
    }
}

impl EventSink {
    /// A sink writing to the events.jsonl of `files`' run folder (None: listeners only).
    pub fn new(files: Option<RunFiles>) -> Self {
        Self {
            files,
            listeners: Arc::default(),
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
    pub fn emit(&self, event: Event) {
        let event = match &self.files {
            Some(files) => {
                let event = files.redacted(&event).unwrap_or(event);
                let _ = crate::fsutil::append_json(&files.dir().events(), &event);
                event
            }
            None => event,
        };
        let listeners = self.listeners.lock().map(|l| l.clone()).unwrap_or_default();
        for l in listeners {
            l(&event);
        }
    }
}
