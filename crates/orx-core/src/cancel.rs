//! One cancellation token, passed from the signal handler down to every child process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cheap, clonable flag: once cancelled, every holder sees it. A child token is cancelled
/// with its parent, and may be cancelled alone (one agent call stopped, the run going on).
#[derive(Clone, Debug, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    parent: Option<Arc<AtomicBool>>,
    /// Set with the flag when the cause is the driver's terminal going away (SIGHUP): the run
    /// is interrupted, not cancelled by a person.
    hangup: Arc<AtomicBool>,
}

impl CancelToken {
    /// A fresh, not-cancelled token.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token that shares an existing flag (e.g. one registered with a signal handler).
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        Self {
            flag,
            parent: None,
            hangup: Arc::default(),
        }
    }

    /// A token cancelled when this one is, or on its own.
    pub fn child(&self) -> Self {
        Self {
            flag: Arc::new(AtomicBool::new(false)),
            parent: Some(self.flag.clone()),
            hangup: self.hangup.clone(),
        }
    }

    /// Requests cancellation.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Stops everything because the driver's terminal went away.
    pub fn hang_up(&self) {
        self.hangup.store(true, Ordering::SeqCst);
        self.cancel();
    }

    /// True when the stop came from [`CancelToken::hang_up`].
    pub fn hung_up(&self) -> bool {
        self.hangup.load(Ordering::SeqCst)
    }

    /// True once cancellation was requested (of this token or of its parent).
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
            || self
                .parent
                .as_ref()
                .is_some_and(|p| p.load(Ordering::SeqCst))
    }

    /// The token's own flag, for registering with a signal handler.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_cancelled_with_its_parent_or_alone() {
        let run = CancelToken::new();
        let call = run.child();
        call.cancel();
        assert!(call.is_cancelled() && !run.is_cancelled());
        let next = run.child();
        run.hang_up();
        assert!(next.is_cancelled() && next.hung_up() && run.hung_up());
    }
}
