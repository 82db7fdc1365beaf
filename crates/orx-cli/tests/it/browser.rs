//! The dashboard in a real headless Chromium, driven over WebDriver (Debian's chromium and
//! chromium-driver, which `.ci/run` installs), against `orx dashboard` serving runs made by the
//! scripted agent. Each test saves screenshots under `target/tmp/dashboard-screenshots/`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use orx_testkit::TestRepo;

use super::dashboard::{
    Dash, add_ended_runs, repo_with_a_run, slow_plan_repo, slow_steps_repo, wait_for,
};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver in its own process group (so Chromium dies with it) and one browser session.
struct Browser {
    driver: Child,
    client: Client,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn browser() -> Browser {
    browser_with(&[]).await
}

/// A browser started with `extra` Chromium flags (a forced colour scheme).
async fn browser_with(extra: &[&str]) -> Browser {
    use std::os::unix::process::CommandExt;
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "the browser tests need Debian's chromium and chromium-driver: \
         sudo apt-get install -y chromium chromium-driver (.ci/run does this)"
    );
    let port = free_port();
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let profile = tempfile::tempdir().unwrap();
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-quic", "--no-first-run", "--disable-extensions",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let mut caps = match caps {
        serde_json::Value::Object(m) => m,
        _ => unreachable!(),
    };
    if let Some(args) = caps["goog:chromeOptions"]["args"].as_array_mut() {
        args.extend(extra.iter().map(|a| serde_json::Value::from(*a)));
    }
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    Browser {
        driver,
        client,
        _profile: profile,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Clicks the element with `id`.
async fn click(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits (15 s at most) for an element matching `css`.
async fn appear(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}` within 15 s: {e}"))
}

/// Saves a screenshot of the page as a test artifact.
async fn shot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The text of the first element matching `css`, or "" when there is none.
async fn text(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Re-checks `f` every 50 ms for up to `secs` seconds.
async fn until<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {secs} s waiting for {what}");
}

async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css))
        .await
        .map(|v| v.len())
        .unwrap_or(0)
}

#[test]
fn the_runs_page_lists_runs_and_the_tabs_show_artifacts_diff_logs_and_metrics() {
    let (repo, id) = repo_with_a_run();
    let d = Dash::start(&repo, &[]);
    let base = format!("http://{}", d.addr);
    runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        c.goto(&format!("{base}/")).await.unwrap();
        let link = c
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(&format!("#recent-runs a[href='/runs/{id}']")))
            .await
            .unwrap();
        assert!(text(c, "#recent-runs").await.contains("succeeded"));
        shot(c, "runs").await;

        link.click().await.unwrap();
        until(10, "the run page", || async {
            text(c, "#run-status").await == "succeeded"
        })
        .await;
        assert_eq!(count(c, "#timeline li.ok").await, 7, "seven stages done");
        assert!(text(c, "#items").await.contains("W001"));
        shot(c, "run-overview").await;

        // Artifacts: the backlog preview is highlighted YAML.
        click(c, "tab-artifacts").await;
        appear(c, ".tree a").await;
        c.find(Locator::LinkText("backlog.yaml"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until(10, "the YAML preview", || async {
            count(c, "#preview pre[data-lang='yaml'] span.k").await > 0
        })
        .await;
        assert!(text(c, "#preview").await.contains("W001"));
        assert!(
            c.current_url()
                .await
                .unwrap()
                .as_str()
                .contains("tab=artifacts")
        );
        shot(c, "artifacts").await;
        // A search hit opens its file at its line: the address names it, the line is marked.
        c.find(Locator::Css("input[name='q']"))
            .await
            .unwrap()
            .send_keys("acceptance")
            .await
            .unwrap();
        let hit = appear(c, "#search-results a[data-line]").await;
        let line = hit.attr("data-line").await.unwrap().unwrap();
        hit.click().await.unwrap();
        until(10, "the hit's line", || async {
            c.current_url()
                .await
                .unwrap()
                .as_str()
                .ends_with(&format!("#L{line}"))
        })
        .await;
        assert!(
            text(c, &format!("#preview #L{line}"))
                .await
                .to_lowercase()
                .contains("acceptance"),
            "line {line}"
        );

        // Diff: the item's change.
        click(c, "tab-diff").await;
        c.wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::LinkText("W001"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // The tab may be swapped once more after the first lines show: read it until it holds.
        until(10, "W001's diff with its added line", || async {
            count(c, "details.file[data-file='a.txt'] .da").await > 0
                && text(c, "details.file[data-file='a.txt']")
                    .await
                    .contains("+a")
        })
        .await;
        shot(c, "diff").await;

        // Logs: the event log.
        click(c, "tab-logs").await;
        until(10, "the event log", || async {
            text(c, "#log").await.contains("run succeeded")
        })
        .await;
        shot(c, "logs").await;

        // Metrics: charts drawn by the server.
        click(c, "tab-metrics").await;
        appear(c, "svg.chart rect").await;
        assert!(text(c, "#gates").await.contains("files pass"));
        shot(c, "run-metrics").await;

        c.goto(&format!("{base}/metrics")).await.unwrap();
        assert_eq!(text(c, "#success-rate").await, "100%");
        shot(c, "metrics").await;
    });
}

/// A run that holds in its gate until the test creates `flag`: the gate prints three lines, waits
/// (at most 30 s), then prints seven more. The test decides when the run moves on, so what it sees
/// change cannot have happened before the page was open.
fn gated_repo(flag: &std::path::Path) -> TestRepo {
    let script = format!(
        "for i in 1 2 3; do echo gate-line-$i; done; n=0; while [ ! -f {f} ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done; for i in 4 5 6 7 8 9 10; do echo gate-line-$i; sleep 0.1; done; test -f a.txt",
        f = flag.display()
    );
    let gate = format!(
        "gates:\n  - name: slow\n    command: sh\n    args: [\"-c\", {}]\n",
        serde_json::to_string(&script).unwrap()
    );
    slow_plan_repo(1000, &gate)
}

#[test]
fn a_run_started_from_the_form_advances_live_and_its_gate_log_tails_live() {
    let flags = tempfile::tempdir().unwrap();
    let flag = flags.path().join("go");
    let repo = gated_repo(&flag);
    let d = Dash::start(&repo, &[]);
    let base = format!("http://{}", d.addr);
    runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        c.goto(&format!("{base}/runs/new")).await.unwrap();
        c.find(Locator::Id("task"))
            .await
            .unwrap()
            .send_keys("Add a file a.txt")
            .await
            .unwrap();
        c.find(Locator::Id("engine"))
            .await
            .unwrap()
            .select_by_value("fake")
            .await
            .unwrap();
        shot(c, "new-run").await;
        click(c, "start").await;
        until(30, "the run's page", || async {
            c.current_url()
                .await
                .map(|u| u.path().starts_with("/runs/2"))
                .unwrap_or(false)
        })
        .await;
        let id = c.current_url().await.unwrap().path()[6..].to_string();
        // A marker that a reload would wipe.
        c.execute("window.__orx_marker = 'kept';", vec![])
            .await
            .unwrap();

        // The run holds in its gate: the timeline shows implement live, plan done, not all done.
        let gate_log = repo.run_dir(&id).join("logs/gate_slow_W001_1.log");
        wait_for(60, "the gate to start", || gate_log.exists());
        until(30, "implement to be the live stage", || async {
            count(c, "#timeline li.current[data-stage='implement']").await == 1
        })
        .await;
        assert_eq!(
            count(c, "#timeline li[data-stage='plan'][data-status='done']").await,
            1
        );
        assert!(count(c, "#timeline li.ok").await < 7);
        assert_eq!(text(c, "#run-status").await, "running");
        shot(c, "run-live").await;

        // The gate's log, tailed live in the Logs tab (htmx swaps it in: no reload).
        click(c, "tab-logs").await;
        c.wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Id("log-select"))
            .await
            .unwrap()
            .select_by_value("logs/gate_slow_W001_1.log")
            .await
            .unwrap();
        until(20, "the first gate lines", || async {
            text(c, "#log").await.contains("gate-line-3")
        })
        .await;
        assert!(!text(c, "#log").await.contains("gate-line-4"));
        let first = count(c, "#log .ll").await;
        std::fs::write(&flag, "go").unwrap();
        until(30, "the rest of the gate's lines", || async {
            text(c, "#log").await.contains("gate-line-10")
        })
        .await;
        let last = count(c, "#log .ll").await;
        assert!(last > first, "lines arrived live: {first} then {last}");
        let lines = text(c, "#log").await;
        for i in 1..=10 {
            assert_eq!(
                lines.matches(&format!("gate-line-{i}\n")).count()
                    + usize::from(lines.ends_with(&format!("gate-line-{i}"))),
                1,
                "line {i} exactly once: {lines}"
            );
        }
        shot(c, "logs-live").await;

        // Back to the overview: the run finishes in front of us. (Up to two minutes: after the
        // Logs tab Chromium may hold its connections to the dashboard for about one, a stall
        // noted on issue 15 and not found yet.)
        click(c, "tab-overview").await;
        until(120, "every stage to be done", || async {
            count(c, "#timeline li.ok").await == 7 && text(c, "#run-status").await == "succeeded"
        })
        .await;
        let marker = c
            .execute("return window.__orx_marker;", vec![])
            .await
            .unwrap();
        assert_eq!(marker, "kept", "the page was reloaded");
    });
}

#[test]
fn cancel_on_the_run_page_stops_the_run_after_a_confirmation_in_the_page_and_says_so() {
    let repo = slow_plan_repo(60000, "");
    let d = Dash::start(&repo, &[]);
    let id = d.post("/api/runs", r#"{"task": "Add a"}"#).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("http://{}", d.addr);
    runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        c.goto(&format!("{base}/runs/{id}")).await.unwrap();
        until(20, "the run to be running", || async {
            text(c, "#run-status").await == "running"
        })
        .await;
        click(c, "cancel").await;
        // The page asks first, in the page (no browser dialog is open: a command would fail).
        appear(c, "dialog#confirm[open]").await;
        assert!(
            text(c, "#confirm-text")
                .await
                .contains("Cancel this run? It stays resumable.")
        );
        click(c, "confirm-yes").await;
        // A toast says what happened.
        let toast = appear(c, ".toast").await.text().await.unwrap();
        assert!(toast.starts_with(&format!("{id}: ")), "{toast}");
        until(30, "the run to be cancelled", || async {
            text(c, "#run-status").await == "cancelled"
        })
        .await;
        // A cancelled run offers Resume.
        c.wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Id("resume"))
            .await
            .unwrap();
        shot(c, "cancelled").await;
    });
    assert_eq!(repo.state(&id).status.as_str(), "cancelled");
}

/// SPEC §16 on the dashboard: a run waiting for approval is listed first; on its page Reject
/// with feedback runs the stage again (the feedback in its prompt), Approve lets it go on; a run
/// at its budget shows the bar full and Raise continues it to the end.
#[test]
fn a_waiting_run_is_approved_rejected_with_feedback_or_given_more_budget_on_its_page() {
    use orx_core::protocol::RunStatus;
    let repo = super::repo_with(
        &[("f", "x")],
        &super::scenario(super::ONE_ITEM, super::WRITE_A, ""),
        "approvals: [plan]\n",
    );
    super::orx_ok(&repo, &["run", "t"], 3);
    let id = repo.single_run();
    let d = Dash::start(&repo, &[]);
    let base = format!("http://{}", d.addr);
    let feedback = "Keep the plan to three steps.";
    runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        c.goto(&format!("{base}/")).await.unwrap();
        let listed = text(c, "#waiting-runs").await;
        assert!(
            listed.contains(&id) && listed.contains("approval of the plan"),
            "{listed}"
        );
        c.goto(&format!("{base}/runs/{id}")).await.unwrap();
        let panel = text(c, "#waiting").await;
        assert!(
            panel.contains("Waiting for your approval of the plan stage")
                && panel.contains("the plan (context/plan.md)"),
            "{panel}"
        );
        shot(c, "waiting-for-approval").await;
        // An empty feedback is refused in the page (the browser's own check is bypassed).
        c.execute(
            "document.getElementById('feedback').removeAttribute('required')",
            vec![],
        )
        .await
        .unwrap();
        click(c, "reject").await;
        until(10, "the refusal", || async {
            text(c, "[role=alert]")
                .await
                .contains("the feedback is empty")
        })
        .await;
        c.find(Locator::Id("feedback"))
            .await
            .unwrap()
            .send_keys(feedback)
            .await
            .unwrap();
        click(c, "reject").await;
        until(30, "the plan to run again and wait", || async {
            repo.run_file(&id, "prompts/plan.md").contains(feedback)
                && repo.state(&id).status == RunStatus::Waiting
                && orx_core::run::RunLock::live_holder(&repo.run_dir(&id).join("lock")).is_none()
        })
        .await;
        c.refresh().await.unwrap();
        click(c, "approve").await;
        until(30, "the run to succeed", || async {
            text(c, "#run-status").await == "succeeded"
        })
        .await;
        assert!(count(c, "#waiting").await == 0, "the panel is gone");
        shot(c, "approved").await;
    });
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Succeeded);
    assert_eq!(st.approved, ["plan"]);
    assert!(
        repo.run_file(&id, "context/decisions.md")
            .contains(&format!("## plan rejected\n{feedback}"))
    );

    // The budget: the bar is full, Raise with dollars continues.
    let repo = super::budget::priced_repo("budget:\n  run_usd: 2.5\n");
    super::orx_ok(&repo, &["run", "t"], 3);
    let id = repo.single_run();
    let d = Dash::start(&repo, &[]);
    let base = format!("http://{}", d.addr);
    runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        c.goto(&format!("{base}/runs/{id}")).await.unwrap();
        let meter = c.find(Locator::Css(".budget .meter")).await.unwrap();
        assert_eq!(
            meter.attr("aria-valuenow").await.unwrap().as_deref(),
            Some("100")
        );
        let bar = text(c, ".budget").await;
        assert!(bar.contains("of $2.50"), "{bar}");
        assert!(
            text(c, "#waiting")
                .await
                .contains("the run's budget is reached")
        );
        shot(c, "waiting-for-budget").await;
        c.find(Locator::Id("add-usd"))
            .await
            .unwrap()
            .send_keys("1000")
            .await
            .unwrap();
        click(c, "raise").await;
        until(30, "the run to succeed", || async {
            text(c, "#run-status").await == "succeeded"
        })
        .await;
    });
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Succeeded);
    assert_eq!(st.budget_raise.usd, 1000.0);
}

/// Every view has its address (issue 15, point 1): the clicked tab is the highlighted one
/// (`aria-selected`), the URL names the tab, the item and the file, and Back and reload land on
/// the same view with the right tab highlighted.
#[test]
fn each_view_has_its_url_and_back_and_reload_land_on_it() {
    let (repo, id) = repo_with_a_run();
    let d = Dash::start(&repo, &[]);
    let base = format!("http://{}", d.addr);
    runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        let selected = || async {
            match c.find(Locator::Css("#tabs [aria-selected=true]")).await {
                Ok(e) => e.attr("id").await.unwrap_or_default().unwrap_or_default(),
                Err(_) => String::new(),
            }
        };
        let url = || async { c.current_url().await.unwrap().to_string() };
        c.goto(&format!("{base}/runs/{id}")).await.unwrap();
        assert_eq!(selected().await, "tab-overview");
        assert_eq!(
            count(c, "#tabs[role=tablist] [role=tab]").await,
            5,
            "tabs with their roles"
        );
        click(c, "tab-diff").await;
        until(10, "the Diff tab to be the highlighted one", || async {
            selected().await == "tab-diff" && url().await.ends_with("?tab=diff")
        })
        .await;
        // An item's diff: its own address, the Diff tab still highlighted.
        c.find(Locator::LinkText("W001"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until(10, "W001's diff and its address", || async {
            url().await.ends_with("?tab=diff&item=W001") && selected().await == "tab-diff"
        })
        .await;
        click(c, "tab-logs").await;
        until(10, "the Logs tab", || async {
            selected().await == "tab-logs" && url().await.contains("?tab=logs")
        })
        .await;
        // Back: the item's diff again, with Diff highlighted.
        c.back().await.unwrap();
        until(10, "Back to W001's diff", || async {
            url().await.ends_with("?tab=diff&item=W001")
                && selected().await == "tab-diff"
                && count(c, "details.file[data-file='a.txt']").await > 0
        })
        .await;
        // Reload: the same view, served whole.
        c.refresh().await.unwrap();
        until(10, "the reloaded page on W001's diff", || async {
            selected().await == "tab-diff" && count(c, "details.file[data-file='a.txt']").await > 0
        })
        .await;
        // A log chosen from the list: its address holds the file.
        click(c, "tab-logs").await;
        until(10, "the log picker", || async {
            count(c, "#log-select").await > 0
        })
        .await;
        // Chosen as a person does (the picker's change event), again until htmx has wired the
        // freshly swapped form.
        until(10, "the log's address", || async {
            let _ = c
                .execute(
                    "const s = document.getElementById('log-select');
                     if (s && !location.search.includes('path=')) {
                       s.value = [...s.options].map(o => o.value).find(v => v.includes('gate_')) || s.value;
                       s.dispatchEvent(new Event('change', { bubbles: true }));
                     }",
                    vec![],
                )
                .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            url().await.contains("?tab=logs&path=logs/gate_")
        })
        .await;
        let shared = url().await;
        c.goto(&format!("{base}/")).await.unwrap();
        c.goto(&shared).await.unwrap();
        until(10, "the shared link to open that log", || async {
            selected().await == "tab-logs"
                && c.find(Locator::Id("log-select"))
                    .await
                    .unwrap()
                    .prop("value")
                    .await
                    .unwrap()
                    .unwrap_or_default()
                    .starts_with("logs/gate_")
        })
        .await;
        shot(c, "view-urls").await;
    });
}

/// Why a run failed, at a glance (issue 15, point 2): the bar names the stage, the item, the
/// attempt and the category with the first finding, and its links open the gate's log and the
/// attempt's diff; the overview shows no "Last error" for a run that succeeded.
#[test]
fn a_failed_runs_page_says_why_at_the_top_and_links_to_the_gate_log() {
    let gates = "gates:\n  - name: lint\n    command: sh\n    args: [\"-c\", \"echo checking; echo 'src/ok.py: fine'; echo 'src/app.py:3:1: E999 SyntaxError: invalid syntax'; echo done; exit 1\"]\n    baseline: ignore\n";
    let repo = super::repo_with(
        &[("f", "x")],
        &super::scenario(super::ONE_ITEM, super::WRITE_A, ""),
        gates,
    );
    super::orx_ok(&repo, &["run", "t"], 1);
    let id = repo.single_run();
    let d = Dash::start(&repo, &[]);
    let base = format!("http://{}", d.addr);
    runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        c.goto(&format!("{base}/runs/{id}")).await.unwrap();
        let bar = text(c, "#failure").await;
        assert!(
            bar.contains("Failed at implement · W001, attempt 3 · gate lint")
                && bar.contains("gate_failed")
                && bar.contains("src/app.py:3:1: E999 SyntaxError: invalid syntax"),
            "{bar}"
        );
        shot(c, "failure-bar").await;
        // Each failed attempt says why in the backlog.
        let items = text(c, "#items").await;
        assert_eq!(items.matches("gate_failed").count(), 3, "{items}");
        click(c, "failure-log").await;
        until(10, "the gate's log", || async {
            text(c, "#log").await.contains("E999 SyntaxError")
                && c.current_url()
                    .await
                    .unwrap()
                    .as_str()
                    .contains("path=logs/gate_lint_W001_3.log")
        })
        .await;
        // The link lands on the finding's line: its anchor, numbered as the file's lines, an
        // error line, in view inside the log.
        let url = c.current_url().await.unwrap().to_string();
        let line = url.rsplit_once("#L").map(|(_, n)| n.to_string()).unwrap_or_default();
        let expected = std::fs::read_to_string(repo.run_dir(&id).join("logs/gate_lint_W001_3.log"))
            .unwrap()
            .lines()
            .position(|l| l.contains("E999") && !l.starts_with("$ "))
            .map(|i| (i + 1).to_string())
            .unwrap();
        assert_eq!(line, expected, "{url}");
        let row = format!("#L{line}");
        assert!(text(c, &row).await.contains("E999 SyntaxError"));
        let seen: serde_json::Value = c
            .execute(
                "var r = document.getElementById('L' + arguments[0]); var log = document.getElementById('log');\
                 var a = r.getBoundingClientRect(), b = log.getBoundingClientRect();\
                 return [r.className, a.top >= b.top && a.bottom <= b.bottom, r.querySelector('.n').textContent];",
                vec![serde_json::json!(line)],
            )
            .await
            .unwrap();
        assert_eq!(seen, serde_json::json!(["ll l-err", true, line]), "{seen}");
        shot(c, "gate-log-at-the-finding").await;
        // "errors" keeps only the error lines.
        c.find(Locator::Css("#log-level option[value='err']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let shown: serde_json::Value = c
            .execute(
                "return Array.from(document.querySelectorAll('#log .ll')).filter(function (l) { return !l.hidden; }).map(function (l) { return l.querySelector('.lt').textContent; });",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            shown.as_array().is_some_and(|a| !a.is_empty()
                && a.iter().all(|l| l.as_str().unwrap_or("").to_lowercase().contains("error")
                    || l.as_str().unwrap_or("").to_lowercase().contains("fail"))),
            "{shown}"
        );
        c.back().await.unwrap();
        click(c, "failure-diff").await;
        until(10, "the attempt's diff", || async {
            count(c, "details.file[data-file='a.txt']").await > 0
        })
        .await;
        // Resume asks in the page (a browser dialog would fail this session), "Keep it as it
        // is" sends nothing, "Yes" resumes and a toast says so.
        c.goto(&format!("{base}/runs/{id}")).await.unwrap();
        click(c, "resume").await;
        appear(c, "dialog#confirm[open]").await;
        assert_eq!(
            text(c, "#confirm-text").await,
            "Resume this run from its checkpoint?"
        );
        shot(c, "confirm-resume").await;
        click(c, "confirm-no").await;
        until(5, "the dialog to close", || async {
            count(c, "dialog#confirm[open]").await == 0
        })
        .await;
        assert_eq!(count(c, ".toast").await, 0);
        assert!(!repo.run_dir(&id).join("logs/dashboard_resume.log").exists());
        click(c, "resume").await;
        appear(c, "dialog#confirm[open]").await;
        click(c, "confirm-yes").await;
        let toast = appear(c, ".toast").await.text().await.unwrap();
        assert_eq!(toast, format!("{id}: resuming"));
        shot(c, "toast-resume").await;
        // The event log reads as steps; a stage's name folds its steps to the first.
        c.goto(&format!("{base}/runs/{id}?tab=logs")).await.unwrap();
        appear(c, "#log .ll[data-stage='plan'] .stg").await;
        let visible = |stage: &'static str| async move {
            c.execute(
                "var s = arguments[0]; return Array.from(document.querySelectorAll('#log .ll')).filter(function (l) { return l.getAttribute('data-stage') === s && !l.hidden; }).length;",
                vec![serde_json::json!(stage)],
            )
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(0)
        };
        let plan = visible("plan").await;
        assert!(plan >= 2, "{plan}");
        c.find(Locator::Css("#log .ll[data-stage='plan'] .stg"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(visible("plan").await, 1);
        assert!(count(c, "#log .ll.folded[data-stage='plan']").await == 1);
    });
}

/// Comments on lines of a run's diff (issue 17): a click on a line's number picks it, "Add
/// comment" lists it, "Send to agent" starts a follow-up run whose page opens; its task holds
/// the comments, and both pages link each other.
#[test]
fn comments_on_diff_lines_start_a_follow_up_run_linked_from_both_pages() {
    use crate::{ONE_ITEM, bin, orx_ok, repo_with, scenario};
    let repo = repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, super::github::WRITE_A_THEN_B, ""),
        "",
    );
    orx_ok(&repo, &["run", "Add the a file"], 0);
    let id = repo.single_run();
    // The dashboard's runs (the follow-up) write b.txt.
    let mut cmd = repo.orx(bin());
    cmd.env("ORX_TEST_AGAIN", "1")
        .args(["dashboard", "--port", "0"]);
    let d = Dash::spawn(cmd);
    let base = format!("http://{}", d.addr);
    let new = runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        c.goto(&format!("{base}/runs/{id}?tab=diff")).await.unwrap();
        appear(c, "#review").await;
        // A click on line 1 of a.txt picks it.
        c.find(Locator::Css(".file[data-file='a.txt'] .ln[data-new='1']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let value = |css: &'static str| async move {
            c.find(Locator::Css(css))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap()
                .unwrap_or_default()
        };
        assert_eq!(value("#rc-path").await, "a.txt");
        // The click gave the line its address; a reload lands on it, marked.
        let url = c.current_url().await.unwrap().to_string();
        assert!(url.ends_with("#f-a_2Etxt-R1"), "{url}");
        c.refresh().await.unwrap();
        appear(c, ".file[data-file='a.txt'] .ln[data-new='1'].hit").await;
        c.find(Locator::Css(".file[data-file='a.txt'] .ln[data-new='1']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(
            (value("#rc-start").await, value("#rc-end").await),
            ("1".into(), "1".into())
        );
        assert_eq!(count(c, ".ln.sel").await, 1, "the picked line is marked");
        c.find(Locator::Id("rc-body"))
            .await
            .unwrap()
            .send_keys("Say what a is for.")
            .await
            .unwrap();
        click(c, "rc-add").await;
        // A second comment typed in: lines 1 to 3 of AGENTS.md.
        c.find(Locator::Css("#rc-path option[value='AGENTS.md']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        for (id, v) in [("rc-start", "1"), ("rc-end", "3")] {
            let f = c.find(Locator::Id(id)).await.unwrap();
            f.clear().await.unwrap();
            f.send_keys(v).await.unwrap();
        }
        c.find(Locator::Id("rc-body"))
            .await
            .unwrap()
            .send_keys("Keep the rules short.")
            .await
            .unwrap();
        click(c, "rc-add").await;
        assert_eq!(count(c, "#rc-list li").await, 2);
        assert!(
            text(c, "#rc-list")
                .await
                .contains("AGENTS.md:1-3 — Keep the rules short.")
        );
        let instructions = c.find(Locator::Id("rc-text")).await.unwrap();
        instructions.clear().await.unwrap();
        instructions.send_keys("Answer the review.").await.unwrap();
        shot(c, "diff-comments").await;
        click(c, "rc-send").await;
        // The follow-up's page opens.
        let page_id = || async {
            let url = c.current_url().await.unwrap().to_string();
            url.rsplit('/').next().unwrap_or("").to_string()
        };
        until(20, "the follow-up's page", || async {
            let now = page_id().await;
            orx_core::run::is_valid_run_id(&now) && now != id
        })
        .await;
        let new = page_id().await;
        until(30, "the follow-up to end", || async {
            text(c, "#run-status").await == "succeeded"
        })
        .await;
        assert!(
            text(c, "#follows").await.contains(&id),
            "its page links the run it follows"
        );
        // Its page shows its task with the comments (the overview is redrawn as the run goes:
        // read it until it holds).
        until(10, "the follow-up's task with the comments", || async {
            let task = text(c, "#overview pre.text").await;
            task.contains("`a.txt:1`: Say what a is for.")
                && task.contains("`AGENTS.md:1-3`: Keep the rules short.")
        })
        .await;
        shot(c, "follow-up").await;
        c.goto(&format!("{base}/runs/{id}")).await.unwrap();
        until(10, "the earlier page's link", || async {
            text(c, "#followed-by").await.contains(&new)
        })
        .await;
        new
    });
    let task = repo.run_file(&new, "context/task.md");
    assert!(
        task.starts_with("Answer the review.\n\n## Review comments to address\n- `a.txt:1`: Say what a is for.\n- `AGENTS.md:1-3`: Keep the rules short.\n"),
        "{task}"
    );
    assert_eq!(repo.meta(&new).follows.as_deref(), Some(id.as_str()));
    assert!(
        std::path::Path::new(&repo.meta(&id).worktree)
            .join("b.txt")
            .exists()
    );
}

/// The Diff tab (issue 15 point 5): a file list with counts, line numbers of the files, no git
/// header lines, a large file collapsed, and a side-by-side layout with its own URL.
#[test]
fn the_diff_lists_its_files_numbers_lines_and_shows_them_side_by_side() {
    use crate::{ONE_ITEM, orx_ok, repo_with, scenario};
    let big: String = (1..=450).map(|i| format!("line {i}\\n")).collect();
    let implement = format!("  - write: {{ a.txt: \"a\\n\", big.txt: \"{big}\" }}\n");
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, &implement, ""), "");
    orx_ok(&repo, &["run", "Add a and big"], 0);
    let id = repo.single_run();
    let d = Dash::start(&repo, &[]);
    let base = format!("http://{}", d.addr);
    runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        c.goto(&format!("{base}/runs/{id}?tab=diff")).await.unwrap();
        appear(c, "#diff-files").await;
        let files = text(c, "#diff-files").await;
        assert!(
            files.contains("a.txt new +1 −0") && files.contains("big.txt new +450 −0"),
            "{files}"
        );
        // The files' own line numbers, no git header lines.
        let body = text(c, ".file[data-file='a.txt'] pre").await;
        assert_eq!(body.trim(), "@@ -0,0 +1 @@\n+a", "{body}");
        assert_eq!(
            count(c, ".file[data-file='a.txt'] .ln[data-new='1']").await,
            1
        );
        // The large file starts collapsed; the small one open.
        let open = |path: &'static str| async move {
            c.find(Locator::Css(&format!(".file[data-file='{path}']")))
                .await
                .unwrap()
                .attr("open")
                .await
                .unwrap()
                .is_some()
        };
        assert!(open("a.txt").await && !open("big.txt").await);
        shot(c, "diff-files").await;
        // Side by side, with its URL: a reload lands on it.
        c.find(Locator::LinkText("side by side"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until(10, "the side-by-side layout", || async {
            count(
                c,
                ".file[data-file='a.txt'] table.sbs td.add-line[data-new='1']",
            )
            .await
                == 1
        })
        .await;
        assert!(
            c.current_url()
                .await
                .unwrap()
                .as_str()
                .ends_with("&view=split")
        );
        c.refresh().await.unwrap();
        until(10, "the side-by-side layout after a reload", || async {
            count(c, "table.sbs").await >= 1
        })
        .await;
        assert_eq!(text(c, "#diff-layout a.on").await, "side by side");
        shot(c, "diff-split").await;
    });
}

/// Every text's contrast with what is behind it, as rendered (computed colours, WCAG's formula):
/// the texts under 4.5:1 (3:1 for large text), as `tag.class "text" ratio`.
const CONTRAST_CHECK: &str = r#"
function lum(c) { c = c / 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); }
function rgb(s) { var m = s.match(/rgba?\(([^)]+)\)/); if (!m) return null;
  var p = m[1].split(',').map(parseFloat); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; }
function behind(el) { while (el) { var c = rgb(getComputedStyle(el).backgroundColor);
  if (c && c.a > 0.5) return c; el = el.parentElement; } return { r: 255, g: 255, b: 255, a: 1 }; }
function L(c) { return 0.2126 * lum(c.r) + 0.7152 * lum(c.g) + 0.0722 * lum(c.b); }
var bad = [];
document.querySelectorAll('body *').forEach(function (el) {
  if (el.closest('[hidden]') || el.disabled || el.closest('option')) return;
  var r = el.getBoundingClientRect(); if (r.width === 0 || r.height === 0) return;
  var own = Array.prototype.some.call(el.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim(); });
  if (!own) return;
  var cs = getComputedStyle(el); if (cs.visibility === 'hidden' || cs.opacity === '0') return;
  var fg = rgb(cs.color), bg = behind(el);
  var a = L(fg), b = L(bg), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  var size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight, 10) >= 700;
  var large = size >= 24 || (size >= 18.66 && bold);
  if (ratio < (large ? 3 : 4.5)) bad.push(el.tagName.toLowerCase() + '.' + el.className + ' "' +
    el.textContent.trim().slice(0, 24) + '" ' + ratio.toFixed(2));
});
return bad;
"#;

/// Every page, light and dark (the system's setting, forced as Chromium's preferred scheme),
/// passes the contrast check; at 360 px wide no page scrolls sideways (issue 15 point 9).
#[test]
fn every_page_reads_in_light_and_dark_with_aa_contrast_and_fits_360_px() {
    let (repo, id) = repo_with_a_run();
    let d = Dash::start(&repo, &[]);
    let base = format!("http://{}", d.addr);
    // The Logs tab last: in headless Chromium a page after it may wait about a minute for the
    // dashboard (connections the browser keeps open; noted on issue 15).
    let pages = [
        "/".to_string(),
        "/runs/new".into(),
        "/metrics".into(),
        format!("/runs/{id}"),
        format!("/runs/{id}?tab=diff"),
        format!("/runs/{id}?tab=diff&view=split"),
        format!("/runs/{id}?tab=artifacts&path=context%2Fbacklog.yaml"),
        format!("/runs/{id}?tab=metrics"),
        format!("/runs/{id}?tab=logs"),
    ];
    runtime().block_on(async {
        for (scheme, flags) in [
            ("light", &[][..]),
            ("dark", &["--blink-settings=preferredColorScheme=0"][..]),
        ] {
            let b = browser_with(flags).await;
            let c = &b.client;
            let mut failures = Vec::new();
            for page in &pages {
                c.set_window_size(1280, 900).await.unwrap();
                c.goto(&format!("{base}{page}")).await.unwrap();
                tokio::time::sleep(Duration::from_millis(300)).await;
                let dark: bool = c
                    .execute(
                        "return matchMedia('(prefers-color-scheme: dark)').matches",
                        vec![],
                    )
                    .await
                    .unwrap()
                    .as_bool()
                    .unwrap();
                assert_eq!(dark, scheme == "dark", "the forced scheme holds");
                if page.ends_with(&id) {
                    shot(c, &format!("run-{scheme}")).await;
                }
                let bad = c.execute(CONTRAST_CHECK, vec![]).await.unwrap();
                for b in bad.as_array().unwrap() {
                    failures.push(format!("{scheme} {page}: {}", b.as_str().unwrap()));
                }
                c.set_window_size(360, 800).await.unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
                let (scroll, inner) = (
                    c.execute("return document.documentElement.scrollWidth", vec![])
                        .await
                        .unwrap(),
                    c.execute("return window.innerWidth", vec![]).await.unwrap(),
                );
                if scroll.as_f64() > inner.as_f64() {
                    failures.push(format!("{scheme} {page}: {scroll} px wide at {inner} px"));
                }
            }
            shot(c, &format!("last-page-360-{scheme}")).await;
            assert!(failures.is_empty(), "{}", failures.join("\n"));
        }
    });
}

/// Keyboard shortcuts (issue 15 point 9): j and k move between runs on the runs page, 1–5 open a
/// run's tabs; a key typed into a field stays there.
#[test]
fn keyboard_shortcuts_move_between_runs_and_open_tabs() {
    let (repo, first) = repo_with_a_run();
    crate::orx_ok(&repo, &["run", "A second run"], 0);
    let second = repo.run_ids().into_iter().find(|i| *i != first).unwrap();
    let d = Dash::start(&repo, &[]);
    let base = format!("http://{}", d.addr);
    runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        c.goto(&format!("{base}/")).await.unwrap();
        appear(c, "#recent-runs a").await;
        let press = |key: &'static str| async move {
            c.active_element()
                .await
                .unwrap()
                .send_keys(key)
                .await
                .unwrap();
        };
        let focused = || async {
            c.execute("return document.activeElement.textContent", vec![])
                .await
                .unwrap()
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        // Newest first.
        press("j").await;
        assert_eq!(focused().await, second);
        press("j").await;
        assert_eq!(focused().await, first);
        press("k").await;
        assert_eq!(focused().await, second);
        // The search field keeps its j.
        let search = c.find(Locator::Css("input[type=search]")).await.unwrap();
        search.send_keys("j").await.unwrap();
        assert_eq!(search.prop("value").await.unwrap().as_deref(), Some("j"));
        // 3 opens the Diff tab of a run, with its URL.
        c.goto(&format!("{base}/runs/{first}")).await.unwrap();
        appear(c, "#tab-overview.on").await;
        press("3").await;
        until(10, "the Diff tab", || async {
            count(c, "#tab-diff.on").await == 1 && count(c, "#diff-files").await == 1
        })
        .await;
        assert!(c.current_url().await.unwrap().as_str().contains("tab=diff"));
    });
}

/// A run's status change is said in the page's live region (issue 15 point 9): the run page of
/// a running run says "The run is now succeeded." when it ends.
#[test]
fn a_status_change_is_said_in_the_live_region() {
    let repo = slow_plan_repo(2500, "");
    let d = Dash::start(&repo, &[]);
    let base = format!("http://{}", d.addr);
    let mut run = repo.orx(crate::bin());
    run.args(["run", "--detach", "t"]);
    let out = run.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", orx_testkit::text(&out));
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        c.goto(&format!("{base}/runs/{id}")).await.unwrap();
        appear(c, "#announce[role=status][aria-live=polite]").await;
        assert_eq!(text(c, "#run-status").await, "running");
        until(60, "the end to be said", || async {
            c.execute(
                "return document.getElementById('announce').textContent",
                vec![],
            )
            .await
            .unwrap()
            .as_str()
                == Some("The run is now succeeded.")
        })
        .await;
    });
}

/// Issue 15, point 6: a live update of the runs page swaps the rows that changed in place: the
/// other rows stay the same elements, keyboard focus stays where it was, and the active run's
/// row shows its new stage.
#[test]
fn live_updates_swap_only_the_changed_rows_and_keep_focus() {
    let repo = slow_steps_repo();
    let ended = add_ended_runs(&repo, 5);
    let d = Dash::start(&repo, &[]);
    let id = d.post("/api/runs", r#"{"task": "Add a"}"#).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("http://{}", d.addr);
    runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        until(20, "the run to be running", || async {
            d.get("/api/runs").json()["active"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .await;
        c.goto(&format!("{base}/")).await.unwrap();
        let stage = format!("#ra-{id} td:nth-child(2)");
        appear(c, &format!("#ra-{id}")).await;
        let before = text(c, &stage).await;
        // An ended run's link holds the focus; its row is marked to see whether it is replaced.
        let row = format!("rr-{}", ended[0]);
        c.execute(
            "var r = document.getElementById(arguments[0]); r.kept = true; r.querySelector('a').focus();",
            vec![serde_json::json!(row)],
        )
        .await
        .unwrap();
        until(20, "the active run's row to show its next stage", || async {
            let now = text(c, &stage).await;
            !now.is_empty() && now != before
        })
        .await;
        let after: serde_json::Value = c
            .execute(
                "var r = document.getElementById(arguments[0]);\
                 return [r.kept === true, document.activeElement === r.querySelector('a')];",
                vec![serde_json::json!(row)],
            )
            .await
            .unwrap();
        assert_eq!(after, serde_json::json!([true, true]), "{after}");
        shot(c, "runs-row-update").await;
    });
}

/// Issue 15, point 3: a live run's waterfall grows: its running bar widens by itself, and a
/// stage that ends becomes a bar of its outcome while the next one runs.
#[test]
fn the_waterfall_grows_while_the_run_goes_on() {
    let repo = slow_steps_repo();
    let d = Dash::start(&repo, &[]);
    let id = d.post("/api/runs", r#"{"task": "Add a"}"#).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("http://{}", d.addr);
    runtime().block_on(async {
        let b = browser().await;
        let c = &b.client;
        c.goto(&format!("{base}/runs/{id}")).await.unwrap();
        let running = "#waterfall rect[data-t0]";
        let width = |e: fantoccini::elements::Element| async move {
            e.attr("width")
                .await
                .unwrap()
                .and_then(|w| w.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let first = width(appear(c, running).await).await;
        until(10, "the running bar to grow", || async {
            match c.find(Locator::Css(running)).await {
                Ok(e) => width(e).await > first + 5.0,
                Err(_) => false,
            }
        })
        .await;
        until(20, "the plan to end as a bar of its own", || async {
            count(c, "#waterfall g.wf-ok").await >= 1 && count(c, running).await == 1
        })
        .await;
        let label = text(c, "#waterfall g.wf-ok text").await;
        assert_eq!(label, "plan");
        shot(c, "waterfall").await;
    });
}

/// Issue 15, point 6: Resume beyond `max_concurrent_runs` queues the run, and the page says so
/// (a toast and the header's note) instead of starting a second run.
#[test]
fn a_resume_beyond_the_limit_is_queued_and_the_page_says_so() {
    // B failed (its gate never passes): it can be resumed. A holds the only slot.
    let (repo, b, d, a) = super::dashboard::one_slot_taken(
        "gates:\n  - name: never\n    command: \"false\"\n    baseline: ignore\n",
        1,
    );
    let base = format!("http://{}", d.addr);
    runtime().block_on(async {
        let b_page = browser().await;
        let c = &b_page.client;
        c.goto(&format!("{base}/runs/{b}")).await.unwrap();
        click(c, "resume").await;
        appear(c, "dialog#confirm[open]").await;
        click(c, "confirm-yes").await;
        let toast = appear(c, ".toast").await.text().await.unwrap();
        assert_eq!(
            toast,
            format!("{b}: queued: at most 1 run(s) at once; it goes on when one ends")
        );
        shot(c, "resume-queued").await;
    });
    // B did not start: it waits in the queue while A runs.
    let q = d.get("/api/runs").json();
    assert!(
        q["queue"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["run_id"] == b.as_str()),
        "{q}"
    );
    assert_eq!(repo.state(&b).status.as_str(), "failed");
    assert_eq!(d.post(&format!("/api/runs/{a}/cancel"), "").status, 200);
}
