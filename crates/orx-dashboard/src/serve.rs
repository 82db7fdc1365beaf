//! Serving connections with limits, so no client can make the dashboard stop answering or grow
//! without bound: a cap on open connections (past it a connection gets a short 503 and is
//! closed), a deadline for a request's headers (an idle or byte-dripping connection is closed),
//! a deadline for each request until its answer starts, a bounded write buffer per connection,
//! and a client that stops reading (an event stream nobody reads) is dropped once its writes
//! have stalled for a while.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The limits of a dashboard server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time for a request's headers to arrive (also how long an idle connection stays open).
    pub header_timeout: Duration,
    /// Time for a handler to produce its answer (a slow request body counts).
    pub request_timeout: Duration,
    /// How long a connection's writes may make no progress before it is dropped.
    pub write_stall: Duration,
    /// The most bytes buffered per connection, each way.
    pub max_buf: usize,
    /// The kernel's send buffer per connection.
    pub send_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            write_stall: Duration::from_secs(20),
            max_buf: 64 * 1024,
            send_buffer: 128 * 1024,
        }
    }
}

impl Limits {
    /// The defaults, with the connection cap kept under the process's file limit (which is first
    /// raised as far as the system allows): each connection is one descriptor, and run folders,
    /// logs and child processes need descriptors too.
    pub fn for_this_process() -> Self {
        let files = orx_core::run::sys::raise_file_limit();
        let d = Self::default();
        let room = usize::try_from(files.saturating_sub(128)).unwrap_or(usize::MAX);
        Self {
            max_connections: d.max_connections.min(room / 2).max(16),
            ..d
        }
    }
}

/// Serves `app` on `listener` with `limits` until the task is dropped.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of descriptors or a connection reset while queued: wait a little.
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                ) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refuse_busy(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(limits.send_buffer);
        let io = TokioIo::new(Stalls::new(stream, limits.write_stall));
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(limits.max_buf)
                .serve_connection(io, service);
            let _ = conn.await;
            drop(permit);
        });
    }
}

/// A short answer to a connection past the cap, given at once and without waiting for the
/// client (so a flood of idle connections costs no task and no descriptor for long).
fn refuse_busy(stream: TcpStream) {
    let body = "the dashboard has too many open connections; retry in a moment\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nRetry-After: 5\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // A fresh socket's buffer takes the whole answer.
    let _ = stream.try_write(answer.as_bytes());
    let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Write);
    // What the client sent is read first: closing with it unread would reset the connection and
    // could destroy the answer before the client reads it.
    let mut sink = [0u8; 4096];
    while matches!(stream.try_read(&mut sink), Ok(n) if n > 0) {}
    // A request still on its way would meet a closed socket (and reset the answer): a few
    // refused connections wait a moment for it, or for the client's close. The rest are
    // closed at once, so a flood holds no more than these few descriptors.
    let Some(waiting) = Lingering::enter() else {
        return;
    };
    tokio::spawn(async move {
        let _ = tokio::time::timeout(REFUSAL_LINGER, drain(&stream)).await;
        drop(waiting);
    });
}

/// How long a refused connection may wait for its request.
const REFUSAL_LINGER: Duration = Duration::from_millis(250);

/// Refused connections waiting for their request at most at once.
const MAX_LINGERING: usize = 32;

static LINGERING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One of the refused connections that may wait.
struct Lingering;

impl Lingering {
    fn enter() -> Option<Self> {
        use std::sync::atomic::Ordering;
        LINGERING
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_LINGERING).then_some(n + 1)
            })
            .ok()
            .map(|_| Lingering)
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        LINGERING.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Reads and drops what the client sends until it closes.
async fn drain(stream: &TcpStream) {
    let mut sink = [0u8; 4096];
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        match stream.try_read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// A connection whose writes fail once they have made no progress for `limit`: a client that
/// stops reading is dropped instead of holding its buffers for ever.
struct Stalls {
    inner: TcpStream,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stalls {
    fn new(inner: TcpStream, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            stalled: None,
        }
    }

    /// Passes on a write's result; a write that waits arms (or checks) the stall deadline.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match r {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let limit = self.limit;
                let timer = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client stopped reading",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncRead for Stalls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stalls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
