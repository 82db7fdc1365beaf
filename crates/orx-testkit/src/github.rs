//! A mock GitHub on 127.0.0.1 for the real `gh`: it answers the REST calls orx makes through
//! `gh api` (issues and their comments, pull requests) and records every request.
//!
//! `gh` is pointed at it without TLS or /etc/hosts: with `GH_HOST=github.localhost` it speaks
//! plain HTTP to `http://api.github.localhost/`, and it honours `HTTP_PROXY`, so the requests
//! reach this server as proxy requests with absolute URIs ([`MockGitHub::env`]).

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::serve::{Received, read_request, respond};

/// The host `gh` is told to use.
pub const HOST: &str = "github.localhost";
/// The repository the mock serves.
pub const REPO: &str = "octo/demo";

/// What the mock holds; tests change it through [`MockGitHub::with`].
#[derive(Debug, Default)]
pub struct Hub {
    /// Issues by number (the REST issue object).
    pub issues: BTreeMap<u64, Value>,
    /// Each issue's comments.
    pub comments: BTreeMap<u64, Vec<Value>>,
    /// Pull requests opened, in order.
    pub pulls: Vec<Value>,
    /// Every request received, in order.
    pub requests: Vec<Received>,
    /// Answer 401 to a request without a token (a `gh` that is not logged in).
    pub require_auth: bool,
    /// The checks of each commit asked for, in the order commits are first asked for: the
    /// first commit gets the first round's, and so on (the last round's for any later one).
    pub ci_rounds: Vec<Vec<MockCheck>>,
    /// A commit's checks read as in progress this many times before they complete.
    pub pending_polls: u32,
    /// Checks that never complete.
    pub ci_stuck: bool,
    /// The commits whose checks were asked for, in order.
    pub ci_shas: Vec<String>,
    /// How many times each commit's checks were read.
    pub ci_polls: BTreeMap<String, u32>,
    /// The review threads of every pull request (GraphQL `reviewThreads` nodes).
    pub review_threads: Vec<Value>,
}

/// One check the mock reports for a commit, with its job's log.
#[derive(Clone, Debug)]
pub struct MockCheck {
    /// Its name.
    pub name: String,
    /// `success`, `failure`, …
    pub conclusion: String,
    /// Its job's log.
    pub log: String,
}

impl MockCheck {
    /// A check that ends with `conclusion` and has `log`.
    pub fn new(name: &str, conclusion: &str, log: &str) -> Self {
        Self {
            name: name.into(),
            conclusion: conclusion.into(),
            log: log.into(),
        }
    }
}

/// A reply: JSON, or text (a job's log).
enum Reply {
    Json(Value),
    Text(String),
}

/// A running mock GitHub; it stops when dropped or after ten minutes.
pub struct MockGitHub {
    addr: String,
    stop: Arc<AtomicBool>,
    hub: Arc<Mutex<Hub>>,
    config: tempfile::TempDir,
}

impl MockGitHub {
    /// Starts an empty mock on a free port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("addr").to_string();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let hub = Arc::new(Mutex::new(Hub {
            require_auth: true,
            ..Default::default()
        }));
        let (stop2, hub2) = (stop.clone(), hub.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            while !stop2.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(600) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let hub = hub2.clone();
                        std::thread::spawn(move || {
                            let _ = stream.set_nonblocking(false);
                            let _ = handle(stream, &hub);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self {
            addr,
            stop,
            hub,
            config: tempfile::tempdir().expect("gh config folder"),
        }
    }

    /// Changes what the mock holds.
    pub fn with<T>(&self, f: impl FnOnce(&mut Hub) -> T) -> T {
        f(&mut self.hub.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds a review thread on `path` lines `start..=line` to every pull request: (author,
    /// text) comments, resolved or not.
    pub fn add_review_thread(
        &self,
        path: &str,
        start: Option<u64>,
        line: u64,
        resolved: bool,
        comments: &[(&str, &str)],
    ) {
        let thread = json!({
            "isResolved": resolved,
            "path": path,
            "line": line,
            "startLine": start,
            "originalLine": line,
            "comments": {"nodes": comments.iter().map(|(who, text)| json!({"author": {"login": who}, "body": text})).collect::<Vec<_>>()},
        });
        self.with(|h| h.review_threads.push(thread));
    }

    /// Adds issue `number` with its labels and comments (author, text).
    pub fn add_issue(
        &self,
        number: u64,
        title: &str,
        body: &str,
        labels: &[&str],
        comments: &[(&str, &str)],
    ) {
        let issue = json!({
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "html_url": format!("http://{HOST}/{REPO}/issues/{number}"),
            "labels": labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
            "user": {"login": "reporter"},
            "comments": comments.len(),
        });
        let comments = comments
            .iter()
            .enumerate()
            .map(|(i, (who, text))| json!({"id": i + 1, "user": {"login": who}, "body": text}))
            .collect();
        self.with(|h| {
            h.issues.insert(number, issue);
            h.comments.insert(number, comments);
        });
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.with(|h| h.requests.clone())
    }

    /// The pull requests opened so far.
    pub fn pulls(&self) -> Vec<Value> {
        self.with(|h| h.pulls.clone())
    }

    /// The environment that points the real `gh` here, logged in, in repository [`REPO`].
    pub fn env(&self) -> Vec<(String, String)> {
        let proxy = format!("http://{}", self.addr);
        [
            ("GH_HOST", HOST.to_string()),
            ("GH_REPO", format!("{HOST}/{REPO}")),
            ("GH_TOKEN", "gho_mocktoken0123456789".to_string()),
            ("GH_CONFIG_DIR", self.config.path().display().to_string()),
            ("GH_PROMPT_DISABLED", "1".to_string()),
            ("GH_NO_UPDATE_NOTIFIER", "1".to_string()),
            ("HTTP_PROXY", proxy.clone()),
            ("http_proxy", proxy),
            ("NO_PROXY", String::new()),
            ("no_proxy", String::new()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

impl Drop for MockGitHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn handle(mut stream: TcpStream, hub: &Mutex<Hub>) -> std::io::Result<()> {
    let req = read_request(&stream)?;
    let (status, body) = {
        let mut h = hub.lock().unwrap_or_else(|e| e.into_inner());
        h.requests.push(req.clone());
        match job_log(&h, &req) {
            Some(found) => found,
            None => {
                let (status, v) = route(&mut h, &req);
                (status, Reply::Json(v))
            }
        }
    };
    match body {
        Reply::Json(v) => respond(&mut stream, status, "application/json", &v.to_string()),
        Reply::Text(t) => respond(&mut stream, status, "text/plain", &t),
    }
}

/// `GET …/actions/jobs/ID/logs`: the log of the check with that id (see [`check_runs`]).
fn job_log(h: &Hub, req: &Received) -> Option<(u16, Reply)> {
    let (path, _) = path_of(&req.target);
    let id: usize = path
        .strip_prefix(&format!("/repos/{REPO}/actions/jobs/"))?
        .strip_suffix("/logs")?
        .parse()
        .ok()?;
    let (round, index) = (id / 100, id % 100);
    let check = h
        .ci_rounds
        .get(round.checked_sub(1)?)?
        .get(index.checked_sub(1)?)?;
    Some((200, Reply::Text(check.log.clone())))
}

/// The check runs of commit `sha`: its round's checks, in progress for the first
/// `pending_polls` reads. A check's id is 100 × its round + its place (from 1).
fn check_runs(h: &mut Hub, sha: &str) -> Value {
    if !h.ci_shas.iter().any(|s| s == sha) {
        h.ci_shas.push(sha.to_string());
    }
    let polls = h.ci_polls.entry(sha.to_string()).or_insert(0);
    *polls += 1;
    let done = !h.ci_stuck && *polls > h.pending_polls;
    let index = h.ci_shas.iter().position(|s| s == sha).unwrap_or(0);
    let round = index.min(h.ci_rounds.len().saturating_sub(1));
    let runs: Vec<Value> = h
        .ci_rounds
        .get(round)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let id = 100 * (round + 1) + i + 1;
            json!({
                "id": id,
                "name": c.name,
                "status": if done { "completed" } else { "in_progress" },
                "conclusion": if done { Value::from(c.conclusion.clone()) } else { Value::Null },
                "html_url": format!("http://{HOST}/{REPO}/actions/runs/1/job/{id}"),
            })
        })
        .collect();
    json!({"total_count": runs.len(), "check_runs": runs})
}

/// The path of a request, without the scheme and host a proxy request carries, and its query.
fn path_of(target: &str) -> (&str, &str) {
    let path = target
        .strip_prefix("http://")
        .map_or(target, |rest| rest.find('/').map_or("/", |i| &rest[i..]));
    path.split_once('?').unwrap_or((path, ""))
}

fn not_found() -> (u16, Value) {
    (
        404,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
    )
}

/// The GraphQL queries orx makes: a pull request's review threads.
fn graphql(h: &Hub, req: &Received) -> (u16, Value) {
    let asked: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
    let query = asked["query"].as_str().unwrap_or("");
    if !query.contains("reviewThreads") {
        return (200, json!({"errors": [{"message": "mock: unknown query"}]}));
    }
    let number = asked["variables"]["number"].as_u64().unwrap_or(0);
    let known = h.pulls.iter().any(|p| p["number"].as_u64() == Some(number));
    let pr = if known {
        json!({"reviewThreads": {"nodes": h.review_threads}})
    } else {
        Value::Null
    };
    (200, json!({"data": {"repository": {"pullRequest": pr}}}))
}

fn route(h: &mut Hub, req: &Received) -> (u16, Value) {
    if h.require_auth && req.header("authorization").is_none() {
        return (401, json!({"message": "Requires authentication"}));
    }
    let (path, query) = path_of(&req.target);
    if req.method == "POST" && path == "/graphql" {
        return graphql(h, req);
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let Some(rest) = parts
        .strip_prefix(&["repos"][..])
        .and_then(|r| (r.len() >= 2 && r[..2].join("/") == REPO).then(|| &r[2..]))
    else {
        return not_found();
    };
    match (req.method.as_str(), rest) {
        ("GET", ["issues", n]) => n
            .parse::<u64>()
            .ok()
            .and_then(|n| h.issues.get(&n).cloned())
            .map_or_else(not_found, |i| (200, i)),
        ("GET", ["issues", n, "comments"]) => n
            .parse::<u64>()
            .ok()
            .filter(|n| h.issues.contains_key(n))
            .map_or_else(not_found, |n| {
                (
                    200,
                    Value::Array(h.comments.get(&n).cloned().unwrap_or_default()),
                )
            }),
        ("POST", ["pulls"]) => {
            let asked: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
            let missing = ["title", "head", "base"]
                .into_iter()
                .find(|k| !asked[*k].is_string());
            if let Some(k) = missing {
                return (
                    422,
                    json!({"message": format!("Validation Failed: {k} is missing")}),
                );
            }
            let number = 100 + h.pulls.len() as u64 + 1;
            let pr = json!({
                "number": number,
                "html_url": format!("http://{HOST}/{REPO}/pull/{number}"),
                "state": "open",
                "title": asked["title"],
                "body": asked["body"],
                "draft": asked["draft"].as_bool().unwrap_or(false),
                "head": {"ref": asked["head"]},
                "base": {"ref": asked["base"]},
            });
            h.pulls.push(pr.clone());
            (201, pr)
        }
        ("GET", ["commits", sha, "check-runs"]) => (200, check_runs(h, sha)),
        ("GET", ["pulls"]) => {
            let head = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("head="))
                .map(|h| h.replace("%3A", ":"));
            let open: Vec<Value> = h
                .pulls
                .iter()
                .filter(|p| {
                    head.as_ref().is_none_or(|want| {
                        let branch = p["head"]["ref"].as_str().unwrap_or("");
                        want.rsplit(':').next() == Some(branch)
                    })
                })
                .cloned()
                .collect();
            (200, Value::Array(open))
        }
        _ => not_found(),
    }
}
