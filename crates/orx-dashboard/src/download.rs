//! Downloads: a run's whole patch, or one file of its folder, of any size, streamed from disk
//! with the secret redactor applied, so a file too large to show in a page is still a click away.

use std::io::Read;
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use orx_core::run::Store;

use crate::{Shared, pages};

/// Query of a download.
#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    /// An item (`W001`) for its diff only.
    #[serde(default)]
    pub item: Option<String>,
    /// A file of the run folder.
    #[serde(default)]
    pub path: Option<String>,
}

/// `GET /runs/{id}/diff.patch[?item=W001]`: the whole patch.
pub async fn patch(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> Response {
    if pages::load_run(&state, &id).is_none() {
        return pages::not_found().await;
    }
    let dir = state.index.dir(&id);
    let item = q.item.filter(|i| !i.is_empty());
    let name = match &item {
        Some(i) => format!("{id}-{i}.patch"),
        None => format!("{id}.patch"),
    };
    let made = tokio::task::spawn_blocking(move || -> Result<Option<Source>, String> {
        let source = Store::diff_source(&dir, item.as_deref()).map_err(|e| e.to_string())?;
        let tmp = tempfile::Builder::new()
            .prefix("orx-patch-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let out = tmp.path().join("patch.diff");
        let file = Store::write_diff(&source, &out).map_err(|e| e.to_string())?;
        Ok(file.map(|path| Source { path, _tmp: tmp }))
    })
    .await;
    match made {
        Ok(Ok(Some(src))) => stream(src, &name),
        Ok(Ok(None)) => attachment(Body::empty(), &name),
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, e).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `GET /runs/{id}/raw?path=logs/x.log`: one file of the run folder.
pub async fn raw(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> Response {
    let rel = q.path.unwrap_or_default();
    let path = match pages::run_file(&state, &id, &rel) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let name = rel.rsplit('/').next().unwrap_or("file").to_string();
    let tmp = match tempfile::Builder::new().prefix("orx-raw-").tempdir() {
        Ok(t) => t,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    stream(Source { path, _tmp: tmp }, &name)
}

/// A file to stream, and the temporary folder that holds it when it was made for the download.
struct Source {
    path: PathBuf,
    _tmp: tempfile::TempDir,
}

/// Streams `src` in chunks cut at line ends (so a secret is never split between two), each
/// redacted.
fn stream(src: Source, name: &str) -> Response {
    let file = match std::fs::File::open(&src.path) {
        Ok(f) => f,
        Err(e) => return (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let _keep = src;
        let mut reader = std::io::BufReader::with_capacity(256 << 10, file);
        let mut carry: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            carry.extend_from_slice(&buf[..n]);
            let cut = if n == 0 {
                carry.len()
            } else {
                match carry.iter().rposition(|b| *b == b'\n') {
                    Some(i) => i + 1,
                    // A line over 1 MiB goes out as it is rather than growing without end.
                    None if carry.len() > 1 << 20 => carry.len(),
                    None => 0,
                }
            };
            if cut > 0 {
                let chunk: Vec<u8> = carry.drain(..cut).collect();
                let text = crate::redact(&String::from_utf8_lossy(&chunk));
                if tx.blocking_send(Ok(text.into_bytes())).is_err() {
                    return;
                }
            }
            if n == 0 {
                return;
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    attachment(Body::from_stream(body), name)
}

fn attachment(body: Body, name: &str) -> Response {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
        ],
        body,
    )
        .into_response()
}
