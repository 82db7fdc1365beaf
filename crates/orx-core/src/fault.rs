//! Fault injection for the crash tests: `ORX_FAULT=<point>` makes orx kill itself with SIGKILL
//! when it reaches that named point, exactly as a crash or `kill -9` would. Unset, it costs one
//! environment lookup per point.

use std::sync::OnceLock;

static FAULT: OnceLock<Option<String>> = OnceLock::new();

/// Dies with SIGKILL when `ORX_FAULT` names `point`.
pub fn point(point: &str) {
    let target = FAULT.get_or_init(|| std::env::var("ORX_FAULT").ok().filter(|s| !s.is_empty()));
    if target.as_deref() == Some(point) {
        crate::run::sys::signal_pid(std::process::id(), crate::run::sys::SIGKILL);
        // SIGKILL cannot be caught; this only waits for it to land.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}
