//! A small blocking HTTP/1.1 client for tests against servers on 127.0.0.1 (the dashboard),
//! with server-sent-events reading. Every call has a timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Response {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A request.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// GET, POST, …
    pub method: &'a str,
    /// The raw request target, sent as is (so tests can send `..` and `%2e`).
    pub target: &'a str,
    /// Extra headers (a `Host` here replaces the default one).
    pub headers: Vec<(&'a str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl<'a> Request<'a> {
    /// A GET of `target`.
    pub fn get(target: &'a str) -> Self {
        Self {
            method: "GET",
            target,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A POST of `body` to `target`.
    pub fn post(target: &'a str, body: &str) -> Self {
        Self {
            method: "POST",
            target,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

fn connect(addr: SocketAddr, req: &Request<'_>, timeout: Duration) -> TcpStream {
    let mut s = TcpStream::connect_timeout(&addr, timeout).expect("connect");
    s.set_read_timeout(Some(timeout)).expect("timeout");
    s.set_write_timeout(Some(timeout)).expect("timeout");
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    if !req
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("host"))
    {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        req.body.len()
    ));
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(&req.body).expect("write");
    s
}

fn read_head(r: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).expect("header");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    (status, headers)
}

/// Sends `req` and reads the whole response (10 s timeout).
pub fn send(addr: SocketAddr, req: &Request<'_>) -> Response {
    let s = connect(addr, req, Duration::from_secs(10));
    let mut r = BufReader::new(s);
    let (status, headers) = read_head(&mut r);
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).expect("chunk size");
            let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).expect("chunk");
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        r.read_to_end(&mut body).expect("body");
    }
    Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A GET.
pub fn get(addr: SocketAddr, target: &str) -> Response {
    send(addr, &Request::get(target))
}

/// One server-sent event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// `event:`.
    pub event: String,
    /// `id:`.
    pub id: Option<String>,
    /// `data:` lines joined with `\n`.
    pub data: String,
}

/// Opens an event stream and collects events until `done` says so or `timeout` passes; the
/// connection is then closed. Returns the status and the events.
pub fn sse(
    addr: SocketAddr,
    req: &Request<'_>,
    timeout: Duration,
    done: impl Fn(&[SseEvent]) -> bool,
) -> (u16, Vec<SseEvent>) {
    let s = connect(addr, req, Duration::from_millis(300));
    let deadline = Instant::now() + timeout;
    let mut r = BufReader::new(s);
    let (status, _) = read_head(&mut r);
    let mut events = Vec::new();
    if status != 200 {
        return (status, events);
    }
    // The body is chunked; SSE lines are read across chunk boundaries from the raw text.
    let mut raw = String::new();
    let mut cur = SseEvent::default();
    let mut has_data = false;
    while Instant::now() < deadline && !done(&events) {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => raw.push_str(&line),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => panic!("reading events: {e}"),
        }
        // Chunk-size lines are hex numbers alone on a line; SSE lines always have a colon or are
        // empty, so the two cannot be confused.
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            if has_data || !cur.event.is_empty() {
                events.push(std::mem::take(&mut cur));
                has_data = false;
            }
            continue;
        }
        if let Some(v) = l.strip_prefix("event:") {
            cur.event = v.trim_start().to_string();
        } else if let Some(v) = l.strip_prefix("id:") {
            cur.id = Some(v.trim_start().to_string());
        } else if let Some(v) = l.strip_prefix("data:") {
            if has_data {
                cur.data.push('\n');
            }
            cur.data.push_str(v.strip_prefix(' ').unwrap_or(v));
            has_data = true;
        }
    }
    (status, events)
}
