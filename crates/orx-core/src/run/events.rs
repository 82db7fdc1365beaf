//! The event sink: events.jsonl and the in-process listeners (the terminal progress display).

use std::sync::{Arc, Mutex};

use super::{Event, RunFiles};

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

    /// Gives `event` to the listeners only, redacted, without writing it (what an agent is
    /// doing at this moment: worth a glance, not a record).
    pub fn notify(&self, event: Event) {
        let event = match &self.files {
            Some(files) => files.redacted(&event).unwrap_or(event),
            None => event,
        };
        let listeners = self.listeners.lock().map(|l| l.clone()).unwrap_or_default();
        for l in listeners {
            l(&event);
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
