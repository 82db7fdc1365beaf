//! The guard in front of every route: Host check (DNS rebinding), access token, same-origin and
//! CSRF checks on state-changing requests, and headers that keep pages from being framed.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Shared;

/// The header that carries the CSRF token (htmx sends it on every request of a page).
pub const CSRF_HEADER: &str = "x-orx-csrf";
/// The cookie that keeps the access token after `/?token=…` was opened once; its name carries the
/// port, since browsers send a host's cookies to every port of it.
pub fn token_cookie(port: u16) -> String {
    format!("orx_token_{port}")
}

/// 32 random hex characters from the kernel's generator.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut bytes);
    }
    if bytes == [0u8; 16] {
        // No /dev/urandom: fall back to the hasher's per-process random keys and the clock.
        use std::hash::{BuildHasher, Hasher};
        for chunk in bytes.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// True for an address only this machine can reach.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Why a request is refused: its status, what is wrong and how to fix it.
struct Refusal {
    status: StatusCode,
    message: String,
    fix: &'static str,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>, fix: &'static str) -> Self {
        Self {
            status,
            message: message.into(),
            fix,
        }
    }

    fn answer(self) -> Response {
        refuse(self.status, &self.message, self.fix)
    }
}

fn refuse(status: StatusCode, message: &str, fix: &str) -> Response {
    let body = serde_json::json!({ "error": message, "fix": fix });
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The Host names this server answers to: its bound address, and on loopback also `localhost`.
fn host_allowed(state: &Shared, host: &str) -> bool {
    let port = state.bound.port();
    let ip = state.bound.ip();
    let mut allowed = vec![
        format!("{ip}:{port}"),
        match ip {
            std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
            std::net::IpAddr::V4(_) => format!("{ip}:{port}"),
        },
    ];
    if ip.is_loopback() {
        allowed.push(format!("localhost:{port}"));
        allowed.push(format!("127.0.0.1:{port}"));
        allowed.push(format!("[::1]:{port}"));
    }
    if ip.is_unspecified() {
        // Bound to every interface: any name may reach it, so the token is what protects it.
        return true;
    }
    allowed.iter().any(|a| a.eq_ignore_ascii_case(host))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The middleware.
pub async fn guard(State(state): State<Shared>, req: Request<Body>, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !host_allowed(&state, host) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            &format!("unknown Host header `{host}`"),
            &format!("open the dashboard at http://{}/", state.bound),
        );
    }
    let set_cookie = match check_token(&state, &req) {
        Ok(c) => c,
        Err(refused) => return refused.answer(),
    };
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state && let Err(refused) = check_same_origin(&state, headers, host) {
        return refused.answer();
    }
    let mut resp = next.run(req).await;
    harden(&mut resp, set_cookie);
    resp
}

/// With a token configured, the request must carry it (header, cookie or query). A token
/// given in the query is turned into a cookie, whose header is returned.
fn check_token(state: &Shared, req: &Request<Body>) -> Result<Option<String>, Refusal> {
    let Some(token) = &state.opts.token else {
        return Ok(None);
    };
    let headers = req.headers();
    let from_query = query_param(req.uri().query(), "token");
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| cookie(headers, &token_cookie(state.bound.port())))
        .or_else(|| from_query.clone());
    match given {
        Some(g) if same(&g, token) => Ok(from_query.is_some().then(|| {
            format!(
                "{}={token}; Path=/; HttpOnly; SameSite=Strict",
                token_cookie(state.bound.port())
            )
        })),
        _ => Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "this dashboard needs its access token",
            "open the URL with ?token=… that `orx dashboard` printed, or send \
             `Authorization: Bearer <token>`",
        )),
    }
}

/// A request that changes state must come from the dashboard's own pages: same origin,
/// same site and the session's CSRF token.
fn check_same_origin(state: &Shared, headers: &HeaderMap, host: &str) -> Result<(), Refusal> {
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && !origin
            .strip_prefix("http://")
            .is_some_and(|o| o.eq_ignore_ascii_case(host))
    {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            format!("cross-origin request from `{origin}` refused"),
            "start, cancel and resume runs from the dashboard's own pages",
        ));
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            format!("a {site} request may not change anything"),
            "start, cancel and resume runs from the dashboard's own pages",
        ));
    }
    let csrf = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !csrf.is_some_and(|c| same(c, &state.csrf)) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token",
            "send the token from GET /api/session in the X-Orx-Csrf header",
        ));
    }
    Ok(())
}

/// Headers every answer carries: no framing, no sniffing, no referrer, a strict CSP; plus
/// the token cookie when the request brought the token in its query.
fn harden(resp: &mut Response, set_cookie: Option<String>) {
    let h = resp.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
             script-src 'self'; frame-ancestors 'none'",
        ),
    );
    if let Some(c) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex() {
        let a = random_token();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_token());
    }

    #[test]
    fn loopback_names() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("::1"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("0.0.0.0"));
        assert!(!is_loopback("192.168.1.4"));
    }

    #[test]
    fn cookies_and_query_parameters_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; orx_token_8421=abc"),
        );
        assert_eq!(cookie(&h, &token_cookie(8421)).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
        assert_eq!(
            query_param(Some("x=1&token=t"), "token").as_deref(),
            Some("t")
        );
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
