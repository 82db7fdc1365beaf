//! Why no agent can serve a request (re-exported as `agent::RouteError`).

/// Why no agent can serve a request.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The routing has no route for the stage.
    #[error("no route for stage `{0}`")]
    NoRoute(String),
    /// No adapter for the executor.
    #[error("no adapter for `{0}`")]
    NoAdapter(crate::config::ExecutorKind),
    /// The scripted agent's state is unusable (a panic while it was held).
    #[error("the scripted agent's state is unusable after a panic")]
    Poisoned,
}
