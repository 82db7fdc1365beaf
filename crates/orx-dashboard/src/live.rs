//! Live updates: one watcher keeps the index fresh and announces changed runs; each open page
//! holds one server-sent-events stream that re-renders only what it shows.
//!
//! Log streams carry the byte offset after each chunk as the event id, so a client that
//! reconnects with `Last-Event-ID` (or `?offset=`) continues exactly where it stopped.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use futures_util::stream;
use serde::Deserialize;
use tokio::sync::broadcast;

use crate::index::Filter;
use crate::{Shared, pages};

/// Change notifications: the id of a run that changed (or `*` for the queue).
#[derive(Debug)]
pub struct Hub {
    tx: broadcast::Sender<String>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// A hub.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self { tx }
    }

    /// Announces that `id` changed.
    pub fn notify(&self, id: &str) {
        let _ = self.tx.send(id.to_string());
    }

    /// A new listener.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.tx.subscribe()
    }
}

/// Refreshes the index four times a second (every ended run's files every 5 s) and announces
/// what changed.
pub async fn watch(state: Shared) {
    let mut tick: u64 = 0;
    let mut queue_len = state.queue.entries().len();
    loop {
        // A dashboard that answered from the newest runs reads the rest at once.
        let filling = state.index.filling().is_some();
        if !filling {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        tick += 1;
        let s = state.clone();
        let full = tick.is_multiple_of(20);
        let changed = tokio::task::spawn_blocking(move || s.index.refresh(full))
            .await
            .unwrap_or_default();
        if filling {
            // Every older run is new to the index: the pages redraw once.
            state.live.notify("*");
        } else {
            for id in &changed {
                state.live.notify(id);
            }
        }
        let q = state.queue.entries().len();
        if q != queue_len {
            queue_len = q;
            state.live.notify("*");
        }
    }
}

/// Waits for the next change that `wanted` accepts; drains the backlog so a burst of changes
/// renders once. None when the hub is gone.
async fn next_change(
    rx: &mut broadcast::Receiver<String>,
    wanted: &(dyn Fn(&str) -> bool + Send + Sync),
) -> Option<()> {
    loop {
        let hit = match rx.recv().await {
            Ok(id) => wanted(&id),
            Err(broadcast::error::RecvError::Lagged(_)) => true,
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        if hit {
            // Let the rest of a burst arrive, then render once.
            tokio::time::sleep(Duration::from_millis(50)).await;
            while let Ok(_id) = rx.try_recv() {}
            return Some(());
        }
    }
}

fn sse<S>(s: S) -> Response
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    Sse::new(s)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// What the runs page says it shows: the digest of its live block (`v`).
#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    /// [`pages::Rendered::digest`] of the block the page was served with.
    #[serde(default)]
    pub v: Option<String>,
}

/// `GET /events/runs?status=&q=&page=&v=`: the runs page's tables on every change: the rows
/// that changed (`rows`, each swapped in place by its id, or deleted), or the whole block
/// (`runs`) when runs came or moved. A page whose block (`v`) is no longer the current one gets
/// the whole block at once; a client that names none gets its first change whole.
pub async fn runs_events(
    State(state): State<Shared>,
    Query(filter): Query<Filter>,
    Query(page): Query<Shown>,
) -> Response {
    let rx = state.live.subscribe();
    let html = pages::runs_fragment(&state, &filter);
    // Without `v` (another client) the first change is sent whole.
    let in_step = page.v.as_deref() == Some(pages::Rendered::digest(&html).as_str());
    let first =
        (page.v.is_some() && !in_step).then(|| Event::default().event("runs").data(html.clone()));
    let shown = page.v.is_some().then(|| pages::Rendered::of(&html));
    let s = stream::unfold(
        (state, rx, filter, shown, first),
        |(state, mut rx, filter, mut shown, first)| async move {
            if let Some(ev) = first {
                return Some((Ok(ev), (state, rx, filter, shown, None)));
            }
            loop {
                next_change(&mut rx, &|_| true).await?;
                let html = pages::runs_fragment(&state, &filter);
                let now = pages::Rendered::of(&html);
                let ev = match shown.as_ref().and_then(|s| now.changed_rows(s)) {
                    Some(rows) if rows.is_empty() => continue,
                    Some(rows) => Event::default().event("rows").data(rows),
                    None => Event::default().event("runs").data(html),
                };
                shown = Some(now);
                return Some((Ok(ev), (state, rx, filter, shown, None)));
            }
        },
    );
    sse(s)
}

/// `GET /events/runs/{id}`: the run page's header and overview, re-rendered when the run
/// changes. Of the header, only the fields that changed are sent (`parts`, each swapped in by its
/// id) while the rest of it stays the same; else the whole header (`header`).
pub async fn run_events(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    if !orx_core::run::is_valid_run_id(&id) {
        return pages::not_found().await.into_response();
    }
    let rx = state.live.subscribe();
    let pending: VecDeque<Event> = VecDeque::new();
    let s = stream::unfold(
        (state, rx, id, pending, None::<pages::Rendered>),
        |(state, mut rx, id, mut pending, mut shown)| async move {
            while pending.is_empty() {
                let want = id.clone();
                next_change(&mut rx, &move |c| c == want || c == "*").await?;
                let (header, overview) = pages::run_fragments(&state, &id);
                let now = pages::Rendered::of_tag(&header, "dd");
                match shown.as_ref().and_then(|s| now.changed_rows(s)) {
                    Some(parts) if parts.is_empty() => {}
                    Some(parts) => pending.push_back(Event::default().event("parts").data(parts)),
                    None => pending.push_back(Event::default().event("header").data(header)),
                }
                shown = Some(now);
                if let Some(o) = overview {
                    pending.push_back(Event::default().event("overview").data(o));
                }
            }
            let ev = pending.pop_front()?;
            Some((Ok(ev), (state, rx, id, pending, shown)))
        },
    );
    sse(s)
}

/// Query of a log stream.
#[derive(Debug, Deserialize)]
pub struct LogQuery {
    /// The log, relative to the run folder.
    pub path: String,
    /// The byte offset to continue from.
    #[serde(default)]
    pub offset: Option<u64>,
    /// The number of the next line (the rows are numbered as the file's lines).
    #[serde(default)]
    pub line: Option<u64>,
    /// How the lines are shown (`lines`, `events`, `agent`).
    #[serde(default)]
    pub view: Option<String>,
}

/// `GET /events/runs/{id}/log?path=&offset=&line=&view=`: new lines of one log as they are
/// written. Each event's id is `offset:line`, so a reconnect goes on from both.
pub async fn log_events(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
    headers: HeaderMap,
) -> Response {
    let path = match pages::run_file(&state, &id, &q.path) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let from_header = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (offset, line) = v.split_once(':').unwrap_or((v, ""));
            Some((offset.parse::<u64>().ok()?, line.parse::<u64>().ok()))
        });
    let offset = from_header.map(|h| h.0).or(q.offset).unwrap_or(0);
    let line = from_header.and_then(|h| h.1).or(q.line).unwrap_or(1);
    let view = pages::LogView::parse(q.view.as_deref().unwrap_or(""));
    let ctx = std::sync::Arc::new(pages::log_ctx(&state, &id, &q.path, view));
    let s = stream::unfold((path, offset, line), move |(path, offset, line)| {
        let ctx = ctx.clone();
        async move {
            loop {
                let p = path.clone();
                let read = tokio::task::spawn_blocking(move || {
                    crate::files::read_from(&p, offset, 256 * 1024)
                })
                .await;
                match read {
                    Ok(Ok((text, next))) if next != offset => {
                        let html = pages::log_lines(&text, line, &ctx);
                        let line = line + text.lines().count() as u64;
                        let ev = Event::default()
                            .event("line")
                            .id(format!("{next}:{line}"))
                            .data(html);
                        return Some((Ok(ev), (path, next, line)));
                    }
                    Ok(Ok(_)) => {}
                    // The file went away (the run was cleaned): end the stream.
                    _ => return None,
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    sse(s)
}
