//! The dashboard over HTTP: `orx dashboard` as a real process on 127.0.0.1, serving run folders
//! made by real fake-agent runs. Every route and API endpoint, live updates, and the safety rules.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use orx_testkit::TestRepo;
use orx_testkit::http::{self, Request};

use super::{ONE_ITEM, WRITE_A, bin, orx_ok, repo_with, scenario};

/// A running `orx dashboard`; killed (with its process group) on drop.
pub struct Dash {
    child: Child,
    /// Its address.
    pub addr: SocketAddr,
    /// The first line it printed (the URL).
    pub url: String,
}

impl Dash {
    /// Starts `orx dashboard --port 0 <args>` in `repo` and waits for its URL.
    pub fn start(repo: &TestRepo, args: &[&str]) -> Dash {
        let mut cmd = repo.orx(bin());
        cmd.args(["dashboard", "--port", "0"]).args(args);
        Self::spawn(cmd)
    }

    /// Starts `cmd` (an `orx dashboard --port 0` command line, perhaps wrapped) and waits for
    /// its URL.
    pub fn spawn(mut cmd: Command) -> Dash {
        use std::os::unix::process::CommandExt;
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("orx dashboard: ")
            .unwrap_or("")
            .to_string();
        assert!(url.starts_with("http://"), "unexpected first line {line:?}");
        let hostport = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let port: u16 = hostport.rsplit(':').next().unwrap().parse().unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in out.lines() {});
        Dash { child, addr, url }
    }

    /// A GET.
    pub fn get(&self, target: &str) -> http::Response {
        http::get(self.addr, target)
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The CSRF token.
    pub fn csrf(&self) -> String {
        self.get("/api/session").json()["csrf"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A POST with the CSRF token and a same-origin Origin.
    pub fn post(&self, target: &str, body: &str) -> http::Response {
        http::send(
            self.addr,
            &Request::post(target, body)
                .header("X-Orx-Csrf", self.csrf())
                .header("Origin", format!("http://{}", self.addr))
                .header("Content-Type", "application/json"),
        )
    }
}

impl Drop for Dash {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 50 ms for up to `secs`.
pub fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {secs} s waiting for {what}");
}

const GATE: &str =
    "gates:\n  - name: files\n    command: sh\n    args: [\"-c\", \"test -f a.txt && echo ok\"]\n";

/// A repository whose one-item run spends `plan_ms` in its plan (so a test can watch it live),
/// with `gates`.
pub fn slow_plan_repo(plan_ms: u64, gates: &str) -> TestRepo {
    repo_with(
        &[("README.md", "x\n")],
        &scenario(ONE_ITEM, WRITE_A, "").replace(
            "plan:\n  - text: \"the plan\"",
            &format!("plan:\n  - text: \"the plan\"\n    sleep_ms: {plan_ms}"),
        ),
        gates,
    )
}

/// A repository with one finished run (one item that writes a.txt).
pub fn repo_with_a_run() -> (TestRepo, String) {
    let repo = repo_with(
        &[("README.md", "x\n")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        GATE,
    );
    orx_ok(&repo, &["run", "Add a <script>alert(1)</script> file"], 0);
    let id = repo.single_run();
    (repo, id)
}

#[test]
fn every_page_and_api_endpoint_answers_with_the_runs_data() {
    let (repo, id) = repo_with_a_run();
    let d = Dash::start(&repo, &[]);
    assert_eq!(
        d.url,
        format!("http://{}/", d.addr),
        "loopback needs no token"
    );

    let page = d.get("/");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("href=\"/runs/{id}\"")),
        "{}",
        page.body
    );
    assert!(page.header("content-security-policy").is_some());
    // The task text is shown escaped, never as markup.
    assert!(
        page.body.contains("Add a &lt;script&gt;alert(1)&lt;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>alert(1)"));

    for (target, needle) in [
        ("/runs/new", "name=\"task\""),
        ("/metrics", "success-rate"),
        (&*format!("/runs/{id}"), "id=\"timeline\""),
        (&*format!("/runs/{id}?tab=artifacts"), "context/"),
        (&*format!("/runs/{id}/tab/overview"), "W001"),
        (&*format!("/runs/{id}/tab/artifacts"), "backlog.yaml"),
        (&*format!("/runs/{id}/tab/diff"), "a.txt"),
        (&*format!("/runs/{id}/tab/diff?item=W001"), "+a"),
        // The event log reads as steps (stage, time, message); raw shows its lines.
        (
            &*format!("/runs/{id}/tab/logs"),
            "<span class=\"stg\">run</span> run ",
        ),
        (&*format!("/runs/{id}/tab/logs?view=raw"), "run.started"),
        // The log picker is grouped by the part of the run (the item's logs together).
        (
            &*format!("/runs/{id}/tab/logs"),
            "<optgroup label=\"W001\">",
        ),
        (&*format!("/runs/{id}/tab/metrics"), "<svg"),
        (
            &*format!("/runs/{id}/preview?path=context/backlog.yaml"),
            "class=\"k\"",
        ),
        (
            &*format!("/runs/{id}/search?q=acceptance"),
            "context/backlog.yaml",
        ),
        ("/runs/table?status=succeeded", &id),
        ("/assets/htmx.min.js", "htmx"),
        ("/assets/sse.min.js", "EventSource"),
        ("/assets/app.js", "data-since"),
        ("/assets/app.css", "--accent"),
        // The scripted agent's tokens have no price: not "$0.0000" as if free.
        (
            &*format!("/runs/{id}"),
            "— <small class=\"muted\">no price known: set <code>pricing</code>",
        ),
        (
            "/runs/table?status=succeeded",
            "title=\"no price is known for the model",
        ),
        // Browsers ask for the icon on their own.
        ("/favicon.ico", "<svg"),
        ("/", "rel=\"icon\""),
    ] {
        let r = d.get(target);
        assert_eq!(r.status, 200, "{target}: {}", r.body);
        assert!(
            r.body.contains(needle),
            "{target} lacks {needle:?}: {}",
            r.body
        );
    }
    assert!(!d.get("/runs/table?status=failed").body.contains(&id));
    assert_eq!(d.get("/nope").status, 404);
    assert_eq!(d.get("/runs/20990101_000000_00000000").status, 404);
    assert_eq!(d.get(&format!("/runs/{id}/tab/nope")).status, 404);

    // The JSON API.
    let list = d.get("/api/runs?per_page=10").json();
    assert_eq!(list["total"], 1);
    assert_eq!(list["runs"][0]["run_id"], id.as_str());
    assert_eq!(list["runs"][0]["status"], "succeeded");
    assert!(list["runs"][0]["tokens"].as_u64().unwrap() > 0);
    assert_eq!(d.get("/api/runs?q=nothing-like-this").json()["total"], 0);
    assert_eq!(
        d.get("/api/runs?q=SCRIPT").json()["total"],
        1,
        "search ignores case"
    );
    let run = d.get(&format!("/api/runs/{id}")).json();
    assert_eq!(run["state"]["items"][0]["id"], "W001");
    assert_eq!(run["meta"]["branch"], format!("orx/{id}"));
    let files = d.get(&format!("/api/runs/{id}/files")).json();
    assert!(
        files["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "context/backlog.yaml")
    );
    let hits = d.get(&format!("/api/runs/{id}/files?q=W001")).json();
    assert!(!hits["hits"].as_array().unwrap().is_empty());
    let f = d
        .get(&format!("/api/runs/{id}/files/context/backlog.yaml"))
        .json();
    assert_eq!(f["language"], "yaml");
    assert!(f["text"].as_str().unwrap().contains("W001"));
    let diff = d.get(&format!("/api/runs/{id}/diff")).json();
    let a = diff["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "a.txt")
        .unwrap_or_else(|| panic!("{diff}"));
    assert_eq!(a["added"], 1);
    let item = d.get(&format!("/api/runs/{id}/diff?item=W001")).json();
    assert!(item["diff"].as_str().unwrap().contains("+a"));
    assert_eq!(d.get(&format!("/api/runs/{id}/diff?item=../x")).status, 400);
    let log = d.get(&format!("/api/runs/{id}/log")).json();
    let next = log["next_offset"].as_u64().unwrap();
    assert!(next > 0 && log["text"].as_str().unwrap().contains("run.started"));
    let rest = d.get(&format!("/api/runs/{id}/log?offset={next}")).json();
    assert_eq!(rest["text"], "", "nothing after the end");
    let m = d.get(&format!("/api/runs/{id}/metrics")).json();
    assert!(m["stages"].as_array().unwrap().len() >= 6);
    assert_eq!(m["metrics"]["items_done"], 1);
    let agg = d.get("/api/metrics").json();
    assert_eq!(agg["runs"], 1);
    assert_eq!(agg["success_rate"], 1.0);
    assert_eq!(agg["gates"]["files"]["pass_rate"], 1.0);
    assert_eq!(d.get("/api/nope").status, 404);
    assert_eq!(d.get("/api/runs/20990101_000000_00000000").status, 404);
}

#[test]
fn paths_outside_the_run_folder_are_refused() {
    let (repo, id) = repo_with_a_run();
    // A symlink inside the run folder that points out of it.
    std::os::unix::fs::symlink("/etc/passwd", repo.run_dir(&id).join("logs/out.log")).unwrap();
    // A FIFO would block whoever reads it: it is not a file to show.
    let fifo = Command::new("mkfifo")
        .arg(repo.run_dir(&id).join("logs/pipe.log"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let d = Dash::start(&repo, &[]);
    assert_eq!(
        d.get(&format!("/api/runs/{id}/files/logs/pipe.log")).status,
        400
    );
    for path in [
        "../../../etc/passwd",
        "..%2f..%2f..%2fetc%2fpasswd",
        "%2e%2e/%2e%2e/etc/passwd",
        "logs/..%2f..%2f..%2fetc%2fpasswd",
        "%2fetc%2fpasswd",
        "logs/out.log",
        "orx.lock",
    ] {
        for target in [
            format!("/api/runs/{id}/files/{path}"),
            format!("/api/runs/{id}/log?path={path}"),
            format!("/runs/{id}/preview?path={path}"),
            format!("/events/runs/{id}/log?path={path}"),
        ] {
            let r = http::send(d.addr, &Request::get(&target));
            assert!(
                !r.body.contains("root:"),
                "{target} leaked /etc/passwd: {}",
                r.body
            );
            assert!(
                r.status >= 400 || r.body.contains("is not a path inside the run folder"),
                "{target} answered {}: {}",
                r.status,
                r.body
            );
        }
    }
    // A run id that is not one is refused before any path is built.
    let r = d.get("/api/runs/..%2f..%2fetc/files/passwd");
    assert!(r.status == 404 || r.status == 400, "{}", r.status);
}

#[test]
fn foreign_hosts_cross_origin_posts_and_missing_csrf_tokens_are_refused() {
    let (repo, id) = repo_with_a_run();
    let d = Dash::start(&repo, &[]);
    let foreign = http::send(
        d.addr,
        &Request::get("/api/runs").header("Host", "evil.example:8421"),
    );
    assert_eq!(foreign.status, 421, "{}", foreign.body);
    assert!(foreign.body.contains("unknown Host"));
    let local = http::send(
        d.addr,
        &Request::get("/").header("Host", format!("localhost:{}", d.addr.port())),
    );
    assert_eq!(local.status, 200, "localhost is this machine");

    let body = r#"{"task": "x", "engine": "fake"}"#;
    let no_token = http::send(d.addr, &Request::post("/api/runs", body));
    assert_eq!(no_token.status, 403, "{}", no_token.body);
    assert!(no_token.body.contains("CSRF"));
    let wrong = http::send(
        d.addr,
        &Request::post("/api/runs", body).header("X-Orx-Csrf", "0".repeat(32)),
    );
    assert_eq!(wrong.status, 403);
    let cross = http::send(
        d.addr,
        &Request::post(&format!("/api/runs/{id}/cancel"), "")
            .header("X-Orx-Csrf", d.csrf())
            .header("Origin", "http://evil.example"),
    );
    assert_eq!(cross.status, 403, "{}", cross.body);
    assert!(cross.body.contains("cross-origin"));
    let site = http::send(
        d.addr,
        &Request::post(&format!("/runs/{id}/resume"), "")
            .header("X-Orx-Csrf", d.csrf())
            .header("Sec-Fetch-Site", "cross-site"),
    );
    assert_eq!(site.status, 403);
    // Nothing was started by the refused requests.
    assert_eq!(repo.run_ids().len(), 1);
    assert!(
        d.get("/api/runs").json()["queue"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_non_loopback_bind_requires_the_token_it_prints() {
    let (repo, _id) = repo_with_a_run();
    let d = Dash::start(&repo, &["--host", "0.0.0.0"]);
    let token = d
        .url
        .split("?token=")
        .nth(1)
        .expect("a token in the URL")
        .to_string();
    assert_eq!(token.len(), 32);
    let anon = d.get("/api/runs");
    assert_eq!(anon.status, 401, "{}", anon.body);
    assert!(anon.body.contains("access token"));
    assert_eq!(d.get("/").status, 401);
    let bearer = http::send(
        d.addr,
        &Request::get("/api/runs").header("Authorization", format!("Bearer {token}")),
    );
    assert_eq!(bearer.status, 200);
    // Opening the printed URL sets a cookie that later requests carry.
    let first = d.get(&format!("/?token={token}"));
    assert_eq!(first.status, 200);
    let cookie = first
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with(&format!("orx_token_{}=", d.addr.port())));
    assert!(first.header("set-cookie").unwrap().contains("HttpOnly"));
    let with_cookie = http::send(d.addr, &Request::get("/api/runs").header("Cookie", cookie));
    assert_eq!(with_cookie.status, 200);
    let wrong = d.get(&format!("/api/runs?token={}", "f".repeat(32)));
    assert_eq!(wrong.status, 401);
}

#[test]
fn a_run_started_by_the_api_is_queued_then_runs_and_pushes_live_events() {
    let repo = slow_plan_repo(1500, GATE);
    let d = Dash::start(&repo, &["--max-concurrent-runs", "1"]);
    let bad = d.post("/api/runs", r#"{"task": "  "}"#);
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("empty"));
    let bad = d.post("/api/runs", r#"{"task": "x", "engine": "nope"}"#);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap()
            .contains("unknown engine")
    );
    let bad = d.post("/api/runs", r#"{"task": "x", "model": "--evil"}"#);
    assert_eq!(bad.status, 400);
    let bad = d.post("/api/runs", r#"{"task": "x", "repo": "/tmp"}"#);
    assert!(
        bad.json()["fix"]
            .as_str()
            .unwrap()
            .contains("orx dashboard --dir")
    );
    let bad = d.post("/api/runs", "not json");
    assert_eq!(bad.status, 400);

    // The event stream of the runs page sees the new run arrive and advance.
    let addr = d.addr;
    let watcher = std::thread::spawn(move || {
        http::sse(
            addr,
            &Request::get("/events/runs"),
            Duration::from_secs(40),
            |evs| evs.iter().any(|e| e.data.contains("succeeded")),
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    let first = d.post(
        "/api/runs",
        r#"{"task": "Add a", "engine": "fake", "stages": ["review=fake"]}"#,
    );
    assert_eq!(first.status, 202, "{}", first.body);
    let id1 = first.json()["run_id"].as_str().unwrap().to_string();
    let second = d.post("/api/runs", r#"{"task": "Add a again"}"#);
    let id2 = second.json()["run_id"].as_str().unwrap().to_string();
    // The run page exists at once, even before the run does.
    assert_eq!(d.get(&format!("/runs/{id2}")).status, 200);
    // With one slot, the second waits while the first runs.
    wait_for(20, "the first run to start", || {
        d.get(&format!("/api/runs/{id1}")).json()["summary"]["status"] == "running"
    });
    let detail = d.get(&format!("/api/runs/{id2}")).json();
    assert_eq!(detail["summary"]["status"], "queued", "{detail}");
    assert!(d.get("/").body.contains("queued"));
    wait_for(60, "both runs to succeed", || {
        [&id1, &id2]
            .iter()
            .all(|id| d.get(&format!("/api/runs/{id}")).json()["summary"]["status"] == "succeeded")
    });
    let (status, events) = watcher.join().unwrap();
    assert_eq!(status, 200);
    // The whole block, then the rows that changed.
    assert_eq!(events.first().map(|e| e.event.as_str()), Some("runs"));
    assert!(
        events
            .iter()
            .all(|e| e.event == "runs" || e.event == "rows")
    );
    assert!(
        events
            .iter()
            .any(|e| e.data.contains(&id1) && e.data.contains("running"))
    );
    assert!(events.iter().any(|e| e.data.contains("succeeded")));
    // The routing override reached the run.
    let meta = repo.meta(&id1);
    assert!(meta.routing.routes.iter().any(|r| r.stage == "review"));
    assert!(
        d.get("/api/runs").json()["queue"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_log_stream_resumes_from_its_last_event_id_without_duplicates() {
    let (repo, id) = repo_with_a_run();
    let log = repo.run_dir(&id).join("logs/tail.log");
    std::fs::write(&log, "one\ntwo\n").unwrap();
    let d = Dash::start(&repo, &[]);
    let target = format!("/events/runs/{id}/log?path=logs/tail.log");
    let (status, first) = http::sse(
        d.addr,
        &Request::get(&target),
        Duration::from_secs(5),
        |e| !e.is_empty(),
    );
    assert_eq!(status, 200);
    assert_eq!(first[0].event, "line");
    assert!(first[0].data.contains("one") && first[0].data.contains("two"));
    // Lines are numbered as the file's: the id carries the offset and the next line's number.
    assert!(first[0].data.contains("id=\"L2\""), "{first:?}");
    let last_id = first[0].id.clone().unwrap();
    assert_eq!(last_id, "8:3");
    // Lines written while nobody listens arrive after a reconnection, and only they do.
    std::fs::write(&log, "one\ntwo\nthree <b>\n").unwrap();
    let (_, again) = http::sse(
        d.addr,
        &Request::get(&target).header("Last-Event-ID", last_id),
        Duration::from_secs(5),
        |e| !e.is_empty(),
    );
    assert!(again[0].data.contains("three &lt;b&gt;"), "{again:?}");
    assert!(again[0].data.contains("id=\"L3\""), "{again:?}");
    assert!(!again[0].data.contains("two"), "{again:?}");
    // A line appended during the stream arrives live.
    let appender = {
        let log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            std::io::Write::write_all(&mut f, b"four\n").unwrap();
        })
    };
    let (_, live) = http::sse(
        d.addr,
        &Request::get(&format!("{target}&offset=25")),
        Duration::from_secs(5),
        |e| e.iter().any(|e| e.data.contains("four")),
    );
    appender.join().unwrap();
    assert!(live.iter().any(|e| e.data.contains("four")), "{live:?}");
}

#[test]
fn cancel_and_resume_act_through_the_orx_binary() {
    let repo = slow_plan_repo(30000, GATE);
    let d = Dash::start(&repo, &[]);
    let id = d.post("/api/runs", r#"{"task": "Add a"}"#).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for(20, "the run to start", || {
        d.get(&format!("/api/runs/{id}")).json()["summary"]["status"] == "running"
    });
    let refused = d.post(&format!("/api/runs/{id}/resume"), "");
    assert_eq!(refused.status, 409, "a running run does not resume");
    let c = d.post(&format!("/api/runs/{id}/cancel"), "");
    assert_eq!(c.status, 200, "{}", c.body);
    wait_for(20, "the run to be cancelled", || {
        d.get(&format!("/api/runs/{id}")).json()["summary"]["status"] == "cancelled"
    });
    // Resume starts the run again from its checkpoint (the plan, which sleeps again).
    let r = d.post(&format!("/api/runs/{id}/resume"), "");
    assert_eq!(r.status, 202, "{}", r.body);
    wait_for(20, "the resumed run to be running", || {
        let s = d.get(&format!("/api/runs/{id}")).json()["summary"]["status"].clone();
        s == "running"
    });
    let c = d.post(&format!("/api/runs/{id}/cancel"), "");
    assert_eq!(c.status, 200, "{}", c.body);
    wait_for(20, "the resumed run to be cancelled again", || {
        d.get(&format!("/api/runs/{id}")).json()["summary"]["status"] == "cancelled"
    });
    let log = std::fs::read_to_string(repo.run_dir(&id).join("logs/dashboard_resume.log"))
        .unwrap_or_default();
    assert!(!log.contains("error"), "{log}");
}

#[test]
fn vendored_assets_match_their_recorded_hashes() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../orx-dashboard/assets/vendor");
    let sources = std::fs::read_to_string(dir.join("SOURCES.md")).unwrap();
    for file in ["htmx.min.js", "sse.min.js"] {
        let out = Command::new("sha256sum")
            .arg(dir.join(file))
            .output()
            .unwrap();
        let sum = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        assert!(
            sources.contains(&sum),
            "{file}: {sum} is not the recorded hash"
        );
    }
    assert!(dir.join("LICENSE.htmx").exists() && dir.join("LICENSE.htmx-ext-sse").exists());
}

#[test]
fn the_form_route_queues_a_run_and_the_run_stream_pushes_its_header_and_overview() {
    let repo = slow_plan_repo(2500, GATE);
    let d = Dash::start(&repo, &[]);
    let form = "task=Add+a+%3Cu%3E&engine=fake&pipeline=standard&stage_review_executor=fake&stage_plan_model=";
    let r = http::send(
        d.addr,
        &Request::post("/runs", form)
            .header("X-Orx-Csrf", d.csrf())
            .header("HX-Request", "true")
            .header("Content-Type", "application/x-www-form-urlencoded"),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let url = r.header("hx-redirect").unwrap().to_string();
    let id = url.strip_prefix("/runs/").unwrap().to_string();
    let (status, events) = http::sse(
        d.addr,
        &Request::get(&format!("/events/runs/{id}")),
        Duration::from_secs(30),
        |evs| {
            evs.iter()
                .any(|e| e.event == "header" && e.data.contains("succeeded"))
        },
    );
    assert_eq!(status, 200);
    assert!(
        events
            .iter()
            .any(|e| e.event == "overview" && e.data.contains("id=\"timeline\""))
    );
    assert!(
        events
            .iter()
            .any(|e| e.event == "header" && e.data.contains("running")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.event == "header" && e.data.contains("succeeded"))
    );
    assert!(
        events.iter().all(|e| !e.data.contains("<u>"))
            && events.iter().any(|e| e.data.contains("Add a &lt;u&gt;")),
        "the task is escaped"
    );
    // A form with an empty task answers with the reason, in place.
    let r = http::send(
        d.addr,
        &Request::post("/runs", "task=&engine=fake")
            .header("X-Orx-Csrf", d.csrf())
            .header("HX-Request", "true")
            .header("Content-Type", "application/x-www-form-urlencoded"),
    );
    assert_eq!(r.header("hx-retarget"), Some("#form-message"));
    assert!(r.body.contains("the task is empty"));
    assert_eq!(d.get("/events/runs/not-a-run").status, 404);
}

#[test]
fn the_queue_survives_a_dashboard_restart() {
    let repo = slow_plan_repo(2500, GATE);
    let (id1, id2) = {
        let d = Dash::start(&repo, &["--max-concurrent-runs", "1"]);
        let id1 = d.post("/api/runs", r#"{"task": "first"}"#).json()["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let id2 = d.post("/api/runs", r#"{"task": "second"}"#).json()["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        wait_for(20, "the first run to start", || {
            d.get(&format!("/api/runs/{id1}")).json()["summary"]["status"] == "running"
        });
        assert_eq!(
            d.get(&format!("/api/runs/{id2}")).json()["summary"]["status"],
            "queued"
        );
        (id1, id2)
        // The dashboard is killed here, with the first run going and the second queued.
    };
    assert!(
        repo.path()
            .join(format!("runs/.dashboard/queue/{id2}.json"))
            .exists()
    );
    let d = Dash::start(&repo, &["--max-concurrent-runs", "1"]);
    wait_for(60, "both runs to succeed after the restart", || {
        [&id1, &id2]
            .iter()
            .all(|id| d.get(&format!("/api/runs/{id}")).json()["summary"]["status"] == "succeeded")
    });
}

#[test]
fn api_keys_in_run_files_never_reach_the_pages_or_the_api() {
    let (repo, id) = repo_with_a_run();
    let key = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
    std::fs::write(
        repo.run_dir(&id).join("logs/leak.log"),
        format!("calling with OPENAI_API_KEY={key}\n"),
    )
    .unwrap();
    std::fs::write(
        repo.run_dir(&id).join("artifacts/leak.md"),
        format!("key: {key}\n"),
    )
    .unwrap();
    // A key inside the checkpoint (a failure message quoting a command line).
    let state_path = repo.run_dir(&id).join("state.json");
    let mut st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    st["last_failure"] = serde_json::json!({
        "stage": "implement", "item": "W001", "category": "gate_failed",
        "message": format!("export OPENAI_API_KEY={key}"),
    });
    std::fs::write(&state_path, st.to_string()).unwrap();
    let d = Dash::start(&repo, &[]);
    let api = d.get(&format!("/api/runs/{id}"));
    assert!(api.body.contains("OPENAI_API_KEY=***"), "{}", api.body);
    assert!(!api.body.contains("AbCdEfGhIjKlMnOp"));
    for target in [
        format!("/api/runs/{id}/files/logs/leak.log"),
        format!("/api/runs/{id}/files/artifacts/leak.md"),
        format!("/api/runs/{id}/log?path=logs/leak.log"),
        format!("/runs/{id}/preview?path=artifacts/leak.md"),
        format!("/runs/{id}?tab=logs&path=logs/leak.log"),
        format!("/runs/{id}/search?q=key"),
    ] {
        let r = d.get(&target);
        assert_eq!(r.status, 200, "{target}");
        assert!(
            !r.body.contains("AbCdEfGhIjKlMnOp"),
            "{target} shows the key: {}",
            r.body
        );
        assert!(r.body.contains("***"), "{target}: {}", r.body);
    }
}

#[test]
fn metrics_report_and_show_print_the_aggregate_and_one_run() {
    let (repo, id) = repo_with_a_run();
    let out = orx_ok(&repo, &["metrics", "report", "--json"], 0);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["runs"], 1);
    assert_eq!(r["by_status"]["succeeded"], 1);
    assert_eq!(r["success_rate"], 1.0);
    assert_eq!(r["stages"]["plan"]["attempts"], 1);
    assert_eq!(r["gates"]["files"]["passed"], 1);
    assert!(r["models"]["fake"]["calls"].as_u64().unwrap() >= 6);
    let text = super::stdout(&orx_ok(&repo, &["metrics"], 0));
    assert!(
        text.contains("1 run(s): 1 succeeded; success rate 100%"),
        "{text}"
    );
    assert!(
        text.contains("STAGE") && text.contains("P95") && text.contains("files"),
        "{text}"
    );
    let show = super::stdout(&orx_ok(&repo, &["metrics", "show", &id], 0));
    assert!(show.contains(&format!("run {id}: succeeded")), "{show}");
    assert!(
        show.contains("W001#1") && show.contains("files:pass"),
        "{show}"
    );
    let json = orx_ok(&repo, &["metrics", "show", &id, "--json"], 0);
    let j: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(j["metrics"]["items_done"], 1);
    let missing = super::orx(&repo, &["metrics", "show", "20990101_000000_00000000"]);
    assert_eq!(missing.status.code(), Some(2));
}

/// Load: the dashboard keeps answering 200 requests a second from loopback while four runs stream
/// gate logs. Every request must be answered (the latencies are printed, not asserted).
#[test]
fn the_dashboard_answers_200_requests_a_second_while_four_runs_stream_logs() {
    let gate = "gates:\n  - name: slow\n    command: sh\n    args: [\"-c\", \"for i in $(seq 1 30); do echo log-line-$i; sleep 0.1; done; test -f a.txt\"]\n";
    let repo = repo_with(
        &[("README.md", "x\n")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        gate,
    );
    orx_ok(&repo, &["run", "a first run"], 0);
    let done_id = repo.single_run();
    let d = Dash::start(&repo, &["--max-concurrent-runs", "4"]);
    let ids: Vec<String> = (0..4)
        .map(|i| {
            d.post("/api/runs", &format!(r#"{{"task": "run {i}"}}"#))
                .json()["run_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    wait_for(30, "the four runs to stream their gate logs", || {
        ids.iter()
            .all(|id| repo.run_dir(id).join("logs/gate_slow_W001_1.log").exists())
    });
    // Four clients tail the logs live while the load runs.
    let tails: Vec<_> = ids
        .iter()
        .map(|id| {
            let addr = d.addr;
            let target = format!("/events/runs/{id}/log?path=logs/gate_slow_W001_1.log");
            std::thread::spawn(move || {
                http::sse(addr, &Request::get(&target), Duration::from_secs(30), |e| {
                    e.iter().any(|e| e.data.contains("log-line-30"))
                })
            })
        })
        .collect();
    let targets = [
        "/".to_string(),
        "/api/runs".to_string(),
        format!("/runs/{done_id}"),
        format!("/api/runs/{}", ids[0]),
        format!("/runs/{}/tab/logs", ids[1]),
        "/api/metrics".to_string(),
    ];
    let start = Instant::now();
    let mut latencies = Vec::new();
    for i in 0..600u32 {
        // 200 requests a second: request i is due at i × 5 ms.
        let due = start + Duration::from_millis(u64::from(i) * 5);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let t = Instant::now();
        let r = d.get(&targets[i as usize % targets.len()]);
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.status, 200, "request {i}: {}", r.body);
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    println!(
        "600 requests in {elapsed:.2} s ({:.0}/s): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        600.0 / elapsed,
        latencies[300],
        latencies[570],
        latencies[599]
    );
    for t in tails {
        let (status, events) = t.join().unwrap();
        assert_eq!(status, 200);
        let all: String = events.iter().map(|e| e.data.as_str()).collect();
        assert!(all.contains("log-line-30"), "a tail missed lines: {all}");
        for i in 1..=30 {
            assert_eq!(
                all.matches(&format!(">log-line-{i}<")).count(),
                1,
                "log-line-{i} once"
            );
        }
    }
    wait_for(60, "the four runs to succeed", || {
        ids.iter()
            .all(|id| d.get(&format!("/api/runs/{id}")).json()["summary"]["status"] == "succeeded")
    });
}

/// The API continues a waiting run as a person decided, and refuses what does not fit the wait
/// with the reason and the fix; nothing is started by a refused request.
#[test]
fn the_api_approves_a_waiting_run_with_more_budget_and_refuses_what_does_not_fit() {
    use orx_core::protocol::RunStatus;
    let repo = super::budget::priced_repo("budget:\n  run_usd: 2.5\n");
    orx_ok(&repo, &["run", "t"], 3);
    let id = repo.single_run();
    let d = Dash::start(&repo, &[]);
    let approve = format!("/api/runs/{id}/approve");
    let r = d.post(&approve, "");
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("the run's budget is reached") && r.body.contains("add dollars or tokens"),
        "{}",
        r.body
    );
    let r = d.post(&approve, r#"{"add_usd": -1}"#);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("add_usd must be dollars"), "{}", r.body);
    let r = d.post(&format!("/api/runs/{id}/reject"), r#"{"feedback": "x"}"#);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("waits for its budget"), "{}", r.body);
    let r = http::send(d.addr, &Request::post(&approve, r#"{"add_usd": 5}"#));
    assert_eq!(r.status, 403, "no CSRF token: {}", r.body);
    assert_eq!(repo.state(&id).status, RunStatus::Waiting);
    assert!(!repo.run_dir(&id).join("logs/dashboard_resume.log").exists());
    // The page's form: a field that is not a number is said in the page.
    let r = http::send(
        d.addr,
        &Request::post(&format!("/runs/{id}/approve"), "add_usd=lots&add_tokens=")
            .header("X-Orx-Csrf", d.csrf())
            .header("Content-Type", "application/x-www-form-urlencoded"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains("role=\"alert\">add_usd must be dollars, like 1.50, not `lots`"),
        "{}",
        r.body
    );

    let r = d.post(&approve, r#"{"add_usd": 1000}"#);
    assert_eq!(r.status, 202, "{}", r.body);
    wait_for(30, "the run to succeed", || {
        repo.state(&id).status == RunStatus::Succeeded
    });
    assert_eq!(repo.state(&id).budget_raise.usd, 1000.0);
    let r = d.post(&approve, r#"{"add_usd": 1}"#);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("does not wait for a person"), "{}", r.body);
}

/// A failure that a later attempt fixed is history: a succeeded run's page shows no failure
/// bar and no "Last error" card.
#[test]
fn a_succeeded_run_shows_no_error_for_a_failure_it_fixed() {
    let repo = super::budget::fix_repo("", "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    assert!(
        repo.state(&id).last_failure.is_some(),
        "the first attempt's failure is in the checkpoint"
    );
    let d = Dash::start(&repo, &[]);
    let page = d.get(&format!("/runs/{id}"));
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("id=\"failure\"") && !page.body.contains("Last error"),
        "{}",
        page.body
    );
}

/// A repository whose run B ended with `code` (under `config`), and a dashboard allowing one
/// run at once whose own runs take a minute over their plan, with run A holding the slot:
/// (the repository, B, the dashboard, A).
pub fn one_slot_taken(config: &str, code: i32) -> (TestRepo, String, Dash, String) {
    let slow_plan = "plan:\n  - when_env: ORX_TEST_SLOW\n    text: \"the plan\"\n    sleep_ms: 60000\n  - text: \"the plan\"";
    let repo = repo_with(
        &[("README.md", "x\n")],
        &scenario(ONE_ITEM, WRITE_A, "").replace("plan:\n  - text: \"the plan\"", slow_plan),
        config,
    );
    orx_ok(&repo, &["run", "b"], code);
    let b = repo.single_run();
    // The dashboard's runs play the slow plan: A holds the only slot.
    let mut cmd = repo.orx(bin());
    cmd.env("ORX_TEST_SLOW", "1")
        .args(["dashboard", "--port", "0", "--max-concurrent-runs", "1"]);
    let d = Dash::spawn(cmd);
    let a = d.post("/api/runs", r#"{"task": "a"}"#).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for(30, "A to run", || {
        repo.run_dir(&a).join("state.json").exists()
            && repo.state(&a).status == orx_core::protocol::RunStatus::Running
    });
    (repo, b, d, a)
}

/// The queue's limit holds for runs continued from the dashboard too (issue 15, point 6): with
/// one run at once and one running, approving a waiting run queues it; it goes on when the
/// running one ends.
#[test]
fn a_continued_run_waits_in_the_queue_while_the_limit_is_reached() {
    use orx_core::protocol::RunStatus;
    // B waits for the approval of its plan.
    let (repo, b, d, a) = one_slot_taken("approvals: [plan]\n", 3);
    let r = d.post(&format!("/api/runs/{b}/approve"), "");
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["result"], "queued", "{}", r.body);
    let again = d.post(&format!("/api/runs/{b}/approve"), "");
    assert_eq!(again.status, 409, "queued once: {}", again.body);
    assert!(
        d.get("/api/runs").json()["queue"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["run_id"] == b.as_str()),
        "B is in the queue"
    );
    // While A runs, B stays waiting (the dispatcher looks twice a second).
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(repo.state(&b).status, RunStatus::Waiting);
    // A ends: B goes on, approved, and finishes.
    assert_eq!(d.post(&format!("/api/runs/{a}/cancel"), "").status, 200);
    wait_for(60, "B to finish once A ended", || {
        repo.state(&b).status == RunStatus::Succeeded
    });
    assert_eq!(repo.state(&b).approved, ["plan"]);
    assert_eq!(repo.state(&a).status, RunStatus::Cancelled);
}

/// `POST /api/runs/ID/followup` refuses, saying why, a run that has not ended, a body that is
/// not a follow-up, an empty one, and a run that does not exist.
#[test]
fn a_follow_up_is_refused_for_a_live_run_and_a_bad_body() {
    let repo = repo_with(
        &[("README.md", "x\n")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        "approvals: [plan]\n",
    );
    orx_ok(&repo, &["run", "b"], 3);
    let waiting = repo.single_run();
    let d = Dash::start(&repo, &[]);
    let said = |path: &str, body: &str| {
        let r = d.post(path, body);
        let j = r.json();
        format!(
            "{} {} | {}",
            r.status,
            j["error"].as_str().unwrap_or(""),
            j["fix"].as_str().unwrap_or("")
        )
    };
    let url = format!("/api/runs/{waiting}/followup");
    insta::assert_snapshot!(
        [
            said(&url, r#"{"text": "more"}"#),
            said(&url, r#"{"txt": "more"}"#),
            said("/api/runs/20261130_000000_00000000/followup", r#"{"text": "more"}"#),
        ]
        .join("\n")
        .replace(&waiting, "[ID]"),
        @r#"
    409 run [ID] is waiting: a follow-up continues a run that ended | wait for it to end (or decide on it when it waits for you)
    400 the body is not a follow-up: unknown field `txt`, expected one of `text`, `comments`, `pipeline` at line 1 column 6 | send {"text": "…", "comments": [{"path": "src/a.py", "start_line": 3, "line": 5, "body": "…"}]}
    404 no run `20261130_000000_00000000` | GET /api/runs lists the runs
    "#
    );
    orx_ok(&repo, &["approve", &waiting], 0);
    insta::assert_snapshot!(said(&url, r#"{"text": " ", "comments": []}"#), @"400 the follow-up has no text and no comment | say what to change, or comment on lines of the diff");
    assert!(repo.run_ids().len() == 1, "nothing was started");
}

/// `/metrics` for a scraper (SPEC §19, issue 15 point 10): a real Prometheus (Debian's package)
/// started on 127.0.0.1 scrapes the dashboard, and its query API returns the numbers
/// `orx metrics report` gives.
#[test]
fn a_real_prometheus_scrapes_metrics_with_the_numbers_of_the_report() {
    use orx_testkit::http::{Request, send};
    use std::os::unix::process::CommandExt;
    const PROMETHEUS: &str = "/usr/bin/prometheus";
    if !std::path::Path::new(PROMETHEUS).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is required in CI (.ci/run installs Debian's)"
        );
        eprintln!("skipped: prometheus is not installed (bash .ci/run installs it)");
        return;
    }
    let (repo, _) = repo_with_a_run();
    let d = Dash::start(&repo, &[]);
    // What a scraper reads.
    let scraped = send(
        d.addr,
        &Request::get("/metrics").header(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        ),
    );
    assert_eq!(scraped.status, 200);
    assert!(
        scraped
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        scraped.headers
    );
    assert!(
        scraped.body.contains("orx_runs{status=\"succeeded\"} 1"),
        "{}",
        scraped.body
    );
    // A browser still gets the page.
    let page = send(
        d.addr,
        &Request::get("/metrics").header("Accept", "text/html,*/*"),
    );
    assert!(
        page.body.starts_with("<!doctype html>"),
        "{}",
        &page.body[..200.min(page.body.len())]
    );
    // The report's numbers.
    let report: serde_json::Value = serde_json::from_str(&crate::stdout(&orx_ok(
        &repo,
        &["metrics", "report", "--json"],
        0,
    )))
    .unwrap();
    // A real Prometheus scrapes it every second.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: orx\n    static_configs:\n      - targets: ['{}']\n",
            d.addr
        ),
    )
    .unwrap();
    let prom = std::process::Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let prom_addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _stop = Stop(prom);
    let query = |q: &str| -> Option<f64> {
        let encoded: String = q
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let target = format!("/api/v1/query?query={encoded}");
        let r = std::panic::catch_unwind(|| send(prom_addr, &Request::get(&target))).ok()?;
        let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    };
    let mut runs = None;
    wait_for(60, "Prometheus to scrape the dashboard", || {
        runs = query("orx_runs{status=\"succeeded\"}");
        runs.is_some()
    });
    assert_eq!(
        runs,
        Some(report["by_status"]["succeeded"].as_f64().unwrap())
    );
    assert_eq!(
        query("sum(orx_tokens_total)"),
        report["total_tokens"].as_f64(),
        "tokens as the report counts them"
    );
    assert_eq!(
        query("orx_stage_duration_seconds_count{stage=\"implement\"}"),
        report["stages"]["implement"]["attempts"].as_f64()
    );
    assert_eq!(
        query("orx_gate_pass_ratio{gate=\"files\"}"),
        report["gates"]["files"]["pass_rate"].as_f64()
    );
}

/// Pages and assets go gzip-compressed to a browser that accepts it (issue 15 point 9), read
/// back with the real curl and gzip; live streams and a client without gzip get them plain.
/// Prints the sizes: `cargo test -p orx-cli --test it dashboard::pages_and_assets -- --nocapture`.
#[test]
fn pages_and_assets_are_sent_gzipped_to_a_client_that_accepts_it() {
    let (repo, id) = repo_with_a_run();
    let d = Dash::start(&repo, &[]);
    let dir = tempfile::tempdir().unwrap();
    let fetch = |path: &str, gzip: bool| -> (String, Vec<u8>) {
        let head = dir.path().join("head");
        let body = dir.path().join("body");
        let mut c = std::process::Command::new("curl");
        c.args(["-s", "--max-time", "10", "-D"])
            .arg(&head)
            .arg("-o")
            .arg(&body);
        if gzip {
            c.args(["-H", "Accept-Encoding: gzip"]);
        }
        let out = c.arg(format!("http://{}{path}", d.addr)).output().unwrap();
        assert!(
            out.status.success(),
            "curl {path}: {}",
            orx_testkit::text(&out)
        );
        (
            std::fs::read_to_string(&head).unwrap().to_ascii_lowercase(),
            std::fs::read(&body).unwrap(),
        )
    };
    for path in [
        "/".to_string(),
        format!("/runs/{id}"),
        "/assets/htmx.min.js".into(),
    ] {
        let (plain_head, plain) = fetch(&path, false);
        let (head, zipped) = fetch(&path, true);
        assert!(
            !plain_head.contains("content-encoding"),
            "{path}: {plain_head}"
        );
        assert!(head.contains("content-encoding: gzip"), "{path}: {head}");
        assert!(head.contains("vary: accept-encoding"), "{path}: {head}");
        let mut gunzip = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        gunzip.stdin.take().unwrap().write_all(&zipped).unwrap();
        let out = gunzip.wait_with_output().unwrap();
        assert!(out.status.success(), "{path}: not gzip");
        // Pages carry a fresh CSRF token each time: compare lengths and a piece, not bytes.
        assert_eq!(out.stdout.len(), plain.len(), "{path}");
        assert!(
            zipped.len() * 2 < plain.len(),
            "{path}: {} of {}",
            zipped.len(),
            plain.len()
        );
        println!(
            "gzip {path}: {} bytes sent instead of {}",
            zipped.len(),
            plain.len()
        );
    }
    // The live stream is never compressed (it must reach the browser as it happens).
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "2",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "Accept-Encoding: gzip",
        ])
        .arg(format!("http://{}/events/runs", d.addr))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(
        head.contains("text/event-stream") && !head.contains("content-encoding"),
        "{head}"
    );
}

/// Adds `n` ended runs to `repo` (copies of one finished run, ids of 2026-01-01); their ids,
/// newest first.
pub fn add_ended_runs(repo: &TestRepo, n: u32) -> Vec<String> {
    let (done_repo, done) = repo_with_a_run();
    std::fs::create_dir_all(repo.path().join("runs")).unwrap();
    let mut ids: Vec<String> = (0..n).map(|i| format!("20260101_{i:06}_{i:08x}")).collect();
    for id in &ids {
        let to = repo.path().join("runs").join(id);
        let cp = Command::new("cp")
            .arg("-r")
            .arg(done_repo.run_dir(&done))
            .arg(&to)
            .status()
            .unwrap();
        assert!(cp.success());
        for f in ["state.json", "meta.json"] {
            let text = std::fs::read_to_string(to.join(f)).unwrap();
            std::fs::write(to.join(f), text.replace(&done, id)).unwrap();
        }
    }
    ids.reverse();
    ids
}

/// A repository whose runs take about 12 s: plan, spec and implement take 4 s each.
pub fn slow_steps_repo() -> TestRepo {
    let slow = |step: &str| format!("{step}\n    sleep_ms: 4000");
    let scenario = scenario(ONE_ITEM, WRITE_A, "")
        .replace("  - text: \"the plan\"", &slow("  - text: \"the plan\""))
        .replace("  - text: \"the spec\"", &slow("  - text: \"the spec\""))
        .replace(
            "  - write: { a.txt: \"a\\n\" }",
            &slow("  - write: { a.txt: \"a\\n\" }"),
        );
    repo_with(&[("README.md", "x\n")], &scenario, GATE)
}

/// Issue 15, point 6: while three runs advance, the runs page's stream sends the rows that
/// changed (swapped in place by id, so focus and scroll stay), not the whole tables each time.
/// The bytes it sends over 10 s go to BENCHMARKS.md §8.
#[test]
fn the_runs_stream_sends_only_the_rows_that_changed() {
    let repo = slow_steps_repo();
    // 40 ended runs below the live ones, as on a page people keep open.
    add_ended_runs(&repo, 40);
    let d = Dash::start(&repo, &["--max-concurrent-runs", "3"]);
    for task in ["Add a", "Add b", "Add c"] {
        let r = d.post("/api/runs", &format!(r#"{{"task": "{task}"}}"#));
        assert_eq!(r.status, 202, "{}", r.body);
    }
    // Measured once the three run.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while d.get("/api/runs").json()["active"]
        .as_array()
        .map_or(0, Vec::len)
        < 3
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the runs did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The stream as the runs page opens it (with the digest of what it shows).
    let page = d.get("/").body;
    let stream = page
        .split("sse-connect=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert!(stream.contains("&v="), "{stream}");
    let (status, events) = http::sse(
        d.addr,
        &Request::get(&stream),
        Duration::from_secs(10),
        |_| false,
    );
    assert_eq!(status, 200);
    let bytes: usize = events.iter().map(|e| e.data.len()).sum();
    let whole: Vec<&http::SseEvent> = events.iter().filter(|e| e.event == "runs").collect();
    let rows: Vec<&http::SseEvent> = events.iter().filter(|e| e.event == "rows").collect();
    println!(
        "runs stream, 3 active runs, 10 s: {} events, {bytes} bytes ({} whole tables, {} row updates)",
        events.len(),
        whole.len(),
        rows.len()
    );
    let kinds: Vec<String> = events
        .iter()
        .map(|e| format!("{} {}", e.event, e.data.len()))
        .collect();
    println!("{kinds:?}");
    assert!(!rows.is_empty(), "no row update: {kinds:?}");
    for e in &rows {
        // Only rows, each swapped in place by its id.
        assert!(!e.data.contains("<section"), "{}", e.data);
        assert_eq!(
            e.data.matches("<tr ").count(),
            e.data.matches("hx-swap-oob=").count(),
            "{}",
            e.data
        );
    }
}

/// `orx demo` (two items, W001 passing at its second attempt, a fix) in a temporary folder
/// and a dashboard on it: (the folder, the repository, the run, the dashboard).
fn demo_dashboard() -> (tempfile::TempDir, std::path::PathBuf, String, Dash) {
    let parent = tempfile::tempdir().unwrap();
    let mut demo = Command::new(bin());
    for (k, v) in orx_testkit::GIT_ENV {
        demo.env(k, v);
    }
    let out = demo
        .args(["demo", "--into"])
        .arg(parent.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let repo = std::fs::read_dir(parent.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("orx-demo-"))
        })
        .unwrap();
    let id = std::fs::read_dir(repo.join("runs"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .find(|n| orx_core::run::is_valid_run_id(n))
        .unwrap();
    let mut cmd = Command::new(bin());
    for (k, v) in orx_testkit::GIT_ENV {
        cmd.env(k, v);
    }
    cmd.arg("--dir")
        .arg(&repo)
        .args(["dashboard", "--port", "0"]);
    let d = Dash::spawn(cmd);
    (parent, repo, id, d)
}

/// Issue 15, point 5: an item's diff shows what each fix changed over the attempt before (the
/// run keeps it as `<item>.fix<n>.diff`), beside the evidence the fix was given.
#[test]
fn an_items_diff_shows_what_each_fix_changed_beside_its_evidence() {
    let (_parent, repo, id, d) = demo_dashboard();
    let run = repo.join("runs").join(&id);
    let fix = std::fs::read_to_string(run.join("artifacts/W001.fix2.diff")).unwrap();
    // The demo's fix corrects add(): the fix's diff is that line, not the whole item.
    let changed: Vec<&str> = fix
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    let item = std::fs::read_to_string(run.join("artifacts/W001.diff")).unwrap();
    assert!(
        !changed.is_empty() && changed.len() < item.lines().count(),
        "{fix}"
    );
    let tab = d.get(&format!("/runs/{id}/tab/diff?item=W001")).body;
    let section = tab.split("id=\"fixes\"").nth(1).expect("the fixes section");
    assert!(section.contains("Attempt 2 over attempt 1"), "{section}");
    assert!(section.contains("The evidence it was given"), "{section}");
    assert!(
        section.contains("unittest"),
        "the gate that failed: {section}"
    );
    // The link to the whole prompt (minijinja writes its slash as &#x2f;).
    assert!(
        section.contains("tab=artifacts&amp;path=prompts&#x2f;fix_W001_2.md"),
        "{section}"
    );
    // An agent's stream reads with its call's time, tokens and cost above it.
    let log = d
        .get(&format!(
            "/runs/{id}/tab/logs?path=logs/agent_fix_W001_2.jsonl"
        ))
        .body;
    let call = log
        .split("id=\"call\">")
        .nth(1)
        .and_then(|r| r.split("</p>").next())
        .unwrap();
    insta::assert_snapshot!(durations_as_t(call), @"This call: fake · [T] · [T] tokens in, [T] out · cost —");
    // W002 passed at once: no fix to show.
    assert!(
        !d.get(&format!("/runs/{id}/tab/diff?item=W002"))
            .body
            .contains("id=\"fixes\"")
    );
}

/// Issue 15, point 7, on the demo's run (two items, one fix): the Metrics tab lists stages in the
/// order the run went through them (fix after implement), the Overview says implement's time
/// holds its fixes', and the metrics page has the days with runs, each linked to its runs.
#[test]
fn charts_keep_the_runs_order_say_what_holds_fixes_and_days_link_to_their_runs() {
    let (_parent, _repo, id, d) = demo_dashboard();
    let tab = d.get(&format!("/runs/{id}/tab/metrics")).body;
    let table = tab.split("Tokens and cost per stage").nth(1).unwrap();
    let at = |stage: &str| {
        table
            .find(&format!("<td>{stage}</td>"))
            .unwrap_or_else(|| panic!("{stage} missing: {table}"))
    };
    let order = ["plan", "spec", "decompose", "implement", "fix", "review"].map(at);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let overview = d.get(&format!("/runs/{id}/tab/overview")).body;
    let implement = overview
        .split("data-stage=\"implement\"")
        .nth(1)
        .and_then(|r| r.split("</span>").nth(2))
        .unwrap();
    let time = durations_as_t(implement);
    insta::assert_snapshot!(time, @"done · [T] with [T] of fixes");
    let day = &id[..8];
    let shown = format!("{}-{}-{}", &day[..4], &day[4..6], &day[6..]);
    let page = d.get("/metrics").body;
    assert!(
        page.contains(&format!("<td><a href=\"/?q={day}\">{shown}</a></td>")),
        "{page}"
    );
    assert!(
        page.contains(&format!("<a href=\"/?q={day}\"><title>")),
        "{page}"
    );
    assert!(d.get(&format!("/?q={day}")).body.contains(&id));
}

/// The text of an HTML fragment with its durations as `[T]`.
fn durations_as_t(html: &str) -> String {
    let text: String = html
        .split('<')
        .map(|p| p.split_once('>').map_or(p, |(_, t)| t))
        .collect();
    let mut out = String::new();
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_digit() || *c == '.')
            {
                chars.next();
            }
            if chars.peek() == Some(&'s') {
                chars.next();
            }
            out.push_str("[T]");
        } else {
            out.push(c);
        }
    }
    out
}

/// Issue 15, point 6, on the run page: while the run goes from stage to stage, its stream sends
/// the header's fields that changed (stage, tokens, …) swapped in by id, not the whole header.
#[test]
fn the_run_pages_stream_sends_the_header_fields_that_changed() {
    let repo = slow_steps_repo();
    let d = Dash::start(&repo, &[]);
    let id = d.post("/api/runs", r#"{"task": "Add a"}"#).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, events) = http::sse(
        d.addr,
        &Request::get(&format!("/events/runs/{id}")),
        Duration::from_secs(20),
        |e| e.iter().filter(|e| e.event == "parts").count() >= 2,
    );
    assert_eq!(status, 200);
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    let parts: Vec<&http::SseEvent> = events.iter().filter(|e| e.event == "parts").collect();
    assert!(parts.len() >= 2, "{kinds:?}");
    for p in &parts {
        assert!(!p.data.contains("<section"), "{}", p.data);
        assert!(
            p.data.starts_with("<dd hx-swap-oob=\"true\" id=\"run-"),
            "{}",
            p.data
        );
    }
    assert!(
        parts.iter().any(|p| p.data.contains("id=\"run-stage\"")),
        "{kinds:?}"
    );
}
