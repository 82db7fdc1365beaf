//! The orx dashboard (SPEC §10): a local web UI over one repository's run folders.
//!
//! Everything shown is read from `runs/<run_id>/` through orx-core's store, the same code
//! `orx status` uses. Runs are started, cancelled and resumed through the launcher it is given
//! (`orx dashboard` gives one that starts the `orx` binary as a detached process), so a run
//! outlives the dashboard and the dashboard can restart at any time.
//!
//! Layout: [`index`] keeps a cache of run summaries fresh, [`live`] turns changes into
//! server-sent events, [`queue`] queues runs and hands them to the launcher, [`security`] guards
//! every request, [`files`] confines paths to a run folder, [`pages`] (one module per page and
//! tab) and [`api`] serve HTML and JSON, [`download`] serves whole diffs and files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

pub mod api;
mod compress;
pub mod download;
pub mod files;
pub mod highlight;
pub mod index;
pub mod live;
pub mod pages;
pub mod queue;
pub mod security;
pub mod serve;
pub mod svg;
mod view;

pub use index::RunIndex;

/// How the dashboard is served.
#[derive(Clone, Debug)]
pub struct Options {
    /// The repository whose `runs/` are shown.
    pub repo: PathBuf,
    /// Where the runs it starts execute (and how they are resumed and cancelled).
    pub launcher: Arc<dyn orx_core::launch::Launcher>,
    /// Runs at once; more wait in the queue.
    pub max_concurrent_runs: usize,
    /// The access token: required on every request when set (always set on a non-loopback bind).
    pub token: Option<String>,
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The options.
    pub opts: Options,
    /// The run summaries.
    pub index: RunIndex,
    /// Change notifications for SSE.
    pub live: live::Hub,
    /// The runs waiting for a free slot, and the dispatcher's bookkeeping.
    pub queue: queue::RunQueue,
    /// The CSRF token of this server process.
    pub csrf: String,
    /// The address the server is bound to (for the Host check).
    pub bound: SocketAddr,
}

/// Shared state.
pub type Shared = Arc<AppState>;

/// How many of the newest runs the dashboard reads before it answers; the watcher reads the
/// rest at once (BENCHMARKS.md §4: the first runs page at 10,000 runs).
pub const FIRST_RUNS: usize = 200;

/// Builds the state: reads the newest runs (the watcher reads the others), and resumes the queue
/// left by an earlier dashboard.
pub fn state(opts: Options, bound: SocketAddr) -> Shared {
    let index = RunIndex::newest(&opts.repo, FIRST_RUNS);
    let queue = queue::RunQueue::new(&opts);
    queue.recover();
    Arc::new(AppState {
        index,
        live: live::Hub::new(),
        queue,
        csrf: security::random_token(),
        bound,
        opts,
    })
}

/// The routes.
pub fn app(state: Shared) -> Router {
    let api = Router::new()
        .route("/session", get(api::session))
        .route("/runs", get(api::runs).post(api::start))
        .route("/runs/{id}", get(api::run))
        .route("/runs/{id}/files", get(api::file_list))
        .route("/runs/{id}/files/{*path}", get(api::file))
        .route("/runs/{id}/diff", get(api::diff))
        .route("/runs/{id}/log", get(api::log))
        .route("/runs/{id}/metrics", get(api::run_metrics))
        .route("/runs/{id}/cancel", post(api::cancel))
        .route("/runs/{id}/resume", post(api::resume))
        .route("/runs/{id}/approve", post(api::approve))
        .route("/runs/{id}/reject", post(api::reject))
        .route("/runs/{id}/followup", post(api::followup))
        .route("/metrics", get(api::metrics))
        .fallback(api::not_found);
    Router::new()
        .route("/", get(pages::runs))
        .route("/runs/table", get(pages::runs_table))
        .route("/runs/new", get(pages::new_run))
        .route("/runs", post(pages::start))
        .route("/runs/{id}", get(pages::run))
        .route("/runs/{id}/tab/{tab}", get(pages::tab))
        .route("/runs/{id}/preview", get(pages::preview))
        .route("/runs/{id}/diff.patch", get(download::patch))
        .route("/runs/{id}/raw", get(download::raw))
        .route("/runs/{id}/search", get(pages::search))
        .route("/runs/{id}/cancel", post(pages::cancel))
        .route("/runs/{id}/resume", post(pages::resume))
        .route("/runs/{id}/approve", post(pages::approve))
        .route("/runs/{id}/reject", post(pages::reject))
        .route("/metrics", get(pages::metrics))
        .route("/events/runs", get(live::runs_events))
        .route("/events/runs/{id}", get(live::run_events))
        .route("/events/runs/{id}/log", get(live::log_events))
        .route("/assets/{name}", get(pages::asset))
        .route("/favicon.ico", get(pages::favicon))
        .nest("/api", api)
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .layer(axum::middleware::from_fn(answer_in_time))
        .layer(axum::middleware::from_fn(compress::gzip))
        .with_state(state)
}

/// A request whose answer does not start within the limit (a body sent a byte at a time, a page
/// that cannot be built) ends with 408 instead of holding its connection. Event streams answer at
/// once and then stream, so they are not cut.
async fn answer_in_time(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = serve::Limits::default().request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => (
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "the request took too long; send it again",
        )
            .into_response(),
    }
}

/// Masks API keys (known shapes and the values of secret-named environment variables) in
/// anything shown. Run folders are already redacted when written; this is the second line.
pub fn redact(text: &str) -> String {
    REDACTOR.redact(text)
}

/// [`redact`] without a copy when nothing is masked.
pub fn redact_cow(text: &str) -> std::borrow::Cow<'_, str> {
    REDACTOR.redact_cow(text)
}

static REDACTOR: std::sync::LazyLock<orx_core::redact::Redactor> =
    std::sync::LazyLock::new(|| orx_core::redact::Redactor::default().with_env());

/// [`redact`] applied to every string of a JSON value (API answers).
pub fn redact_json(v: serde_json::Value) -> serde_json::Value {
    REDACTOR.redact_json(v)
}

/// Serves on `listener` until the process ends: the watcher and the queue run alongside.
pub async fn serve(listener: tokio::net::TcpListener, opts: Options) -> std::io::Result<()> {
    let bound = listener.local_addr()?;
    serve_state(listener, state(opts, bound)).await
}

/// Serves `state` (built beforehand, so the first request finds the index ready).
pub async fn serve_state(listener: tokio::net::TcpListener, state: Shared) -> std::io::Result<()> {
    tokio::spawn(live::watch(state.clone()));
    tokio::spawn(queue::dispatch_loop(state.clone()));
    serve::serve(listener, app(state), serve::Limits::for_this_process()).await
}

/// Binds `host:port`, calls `ready` with the bound address, and serves until SIGINT or SIGTERM.
/// Runs its own small runtime (two worker threads), so callers need no async code.
pub fn run_blocking(
    host: &str,
    port: u16,
    opts: Options,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("orx-dashboard")
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let addr = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        let bound = listener.local_addr()?;
        // The index is read before the address is announced: the first page is served at once.
        let shared = tokio::task::spawn_blocking(move || state(opts, bound))
            .await
            .map_err(std::io::Error::other)?;
        ready(bound);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = serve_state(listener, shared) => r,
            _ = tokio::signal::ctrl_c() => Ok(()),
            _ = term.recv() => Ok(()),
        }
    })?;
    // Open event streams never end by themselves: do not wait for them.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(())
}
