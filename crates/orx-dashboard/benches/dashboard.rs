//! Dashboard at scale: creates 100, 1,000 and 10,000 run folders (state.json, meta.json, metrics,
//! a backlog and logs, written with orx-core's own types), serves them on 127.0.0.1 and reports
//! the index build time, the latency (p50/p95 over sequential requests) of the runs page, a
//! filtered runs page, the API list and a run page, the time for a new run to reach 50 open SSE
//! clients of the runs page, and the process's RSS. Prints figures; never fails.
//! Run: `cargo bench -p orx-dashboard --bench dashboard` (or `make bench`).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use orx_core::config::RoutingTable;
use orx_core::metrics::{RunTotals, StageRecord};
use orx_core::run::{
    ItemState, ItemStatus, Meta, RunDir, RunState, RunStatus, StageStatus, ToolVersions,
};
use orx_testkit::http::{self, Request};

const STAGES: [&str; 7] = [
    "plan",
    "spec",
    "decompose",
    "implement",
    "review",
    "ship",
    "knowledge_update",
];

fn write_run(runs: &Path, n: usize) -> String {
    let id = format!(
        "2026{:04}_{:06}_{:08x}",
        1001 + n / 100_000,
        n % 1_000_000,
        n
    );
    let dir = RunDir::new(runs, &id);
    dir.create().unwrap();
    let stages: Vec<String> = STAGES.iter().map(|s| s.to_string()).collect();
    let mut st = RunState::new(&id, "standard", &stages);
    let failed = n.is_multiple_of(7);
    st.status = if failed {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    };
    for s in &mut st.stages {
        s.status = StageStatus::Done;
        s.attempts = 1;
    }
    st.current_stage = Some("knowledge_update".into());
    st.items = (1..=3)
        .map(|i| ItemState {
            id: format!("W{i:03}"),
            title: format!("item {i}"),
            status: ItemStatus::Passed,
            attempts: 1,
            start_commit: None,
            commit: Some("abc".into()),
            phase: None,
            last_evidence: None,
            session: None,
        })
        .collect();
    st.base_sha = Some("0123456789abcdef".into());
    st.branch = Some(format!("orx/{id}"));
    let files = orx_core::run::RunFiles::new(dir.clone(), Default::default());
    files.save_state(&mut st, false).unwrap();
    let meta = Meta {
        version: orx_core::protocol::PROTOCOL_VERSION,
        run_id: id.clone(),
        task_summary: format!("Task number {n}: add a function and its tests"),
        repo: "/repo".into(),
        base_branch: "main".into(),
        base_sha: "0123456789abcdef".into(),
        branch: format!("orx/{id}"),
        worktree: format!("/repo/.worktrees/{id}"),
        engine: "fake".into(),
        pipeline: "standard".into(),
        routing: RoutingTable::default(),
        config_file: None,
        tool_versions: ToolVersions {
            orx: "0.1.0".into(),
            git: None,
        },
        pid: 1,
        started_at: "2026-11-26T10:00:00Z".into(),
        ended_at: Some("2026-11-26T10:00:42Z".into()),
        status: st.status,
        pr_url: None,
        issue: None,
        follows: None,
        followed_by: Vec::new(),
    };
    files.save_meta(&meta).unwrap();
    let records: Vec<StageRecord> = STAGES
        .iter()
        .map(|s| StageRecord {
            run_id: id.clone(),
            stage: s.to_string(),
            status: orx_core::protocol::AttemptStatus::Ok,
            duration_secs: 2.0 + (n % 5) as f64,
            executor: Some("fake".into()),
            tokens: orx_core::agent::Usage {
                input: 1000,
                cached_input: 0,
                output: 200,
                reasoning: 0,
            },
            ..Default::default()
        })
        .collect();
    let lines: String = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    std::fs::write(dir.stage_metrics(), lines).unwrap();
    let mut m = RunTotals::from_records(&id, &records);
    m.status = Some(meta.status);
    orx_core::fsutil::atomic_write_json(&dir.run_metrics(), &m).unwrap();
    std::fs::write(
        dir.context("backlog.yaml"),
        "items:\n  - id: W001\n    title: item 1\n",
    )
    .unwrap();
    std::fs::write(dir.events(), "{\"kind\":\"run.started\"}\n".repeat(40)).unwrap();
    std::fs::write(
        dir.log("agent_plan.jsonl"),
        "{\"type\":\"message\"}\n".repeat(20),
    )
    .unwrap();
    id
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (p(0.50), p(0.95))
}

fn time_get(addr: SocketAddr, target: &str, n: usize) -> (f64, f64, usize) {
    let mut times = Vec::with_capacity(n);
    let mut size = 0;
    for _ in 0..n {
        let t = Instant::now();
        let r = http::get(addr, target);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.status, 200, "{target}: {}", r.body);
        size = r.body.len();
    }
    let (p50, p95) = percentiles(times);
    (p50, p95, size)
}

fn bench(count: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    let runs = repo.join("runs");
    let t = Instant::now();
    let ids: Vec<String> = (0..count).map(|n| write_run(&runs, n)).collect();
    let create = t.elapsed().as_secs_f64();
    let rss_before = rss_kib();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let opts = orx_dashboard::Options {
        repo: repo.to_path_buf(),
        // The bench only reads pages: no run is started, so the driver is `false`.
        launcher: std::sync::Arc::new(orx_core::launch::Detached::new(std::sync::Arc::new(
            NoDriver(std::path::PathBuf::from("false")),
        ))),
        max_concurrent_runs: 2,
        token: None,
    };
    let state = orx_dashboard::state(opts, addr);
    let newest_secs = t.elapsed().as_secs_f64();
    rt.spawn(orx_dashboard::live::watch(state.clone()));
    let app = orx_dashboard::app(state.clone());
    rt.spawn(async move { axum::serve(listener, app).await });
    // The first runs page, from the start: the newest runs are read, the rest in the background.
    let first = http::get(addr, "/");
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(first.status, 200);
    while state.index.filling().is_some() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let index_secs = t.elapsed().as_secs_f64();

    let n = if count >= 10_000 { 100 } else { 200 };
    let mid = &ids[ids.len() / 2];
    let runs_page = time_get(addr, "/", n);
    let filtered = time_get(addr, "/?status=failed&q=number%2099", n);
    let api = time_get(addr, "/api/runs?page=3&per_page=50", n);
    let run_page = time_get(addr, &format!("/runs/{mid}"), n);
    let artifacts = time_get(addr, &format!("/runs/{mid}?tab=artifacts"), n / 2);

    // 50 SSE clients on the runs page; one run changes; time until every client has the event.
    let clients = 50;
    let (tx, rx) = std::sync::mpsc::channel();
    let started = std::sync::Arc::new(std::sync::Barrier::new(clients + 1));
    for _ in 0..clients {
        let tx = tx.clone();
        let started = started.clone();
        std::thread::spawn(move || {
            started.wait();
            let (_, ev) = http::sse(
                addr,
                &Request::get("/events/runs"),
                Duration::from_secs(20),
                |e| !e.is_empty(),
            );
            tx.send((Instant::now(), !ev.is_empty())).unwrap();
        });
    }
    started.wait();
    std::thread::sleep(Duration::from_millis(500));
    // A new run appears (as when `orx run` starts one): its folder is written now.
    let changed_at = Instant::now();
    write_run(&runs, count + 1);
    let mut last = changed_at;
    let mut got = 0;
    for _ in 0..clients {
        let (at, ok) = rx.recv().unwrap();
        got += usize::from(ok);
        last = last.max(at);
    }
    let fanout_ms = (last - changed_at).as_secs_f64() * 1000.0;
    let rss_after = rss_kib();

    println!(
        "{count:>6} runs | create {create:>5.1}s | first runs page {first_ms:>4.0} ms (newest {newest:>3.0} ms) | whole index {index:>6.0} ms | runs page p50 {:>6.2} p95 {:>6.2} ms ({} KB) | filtered p50 {:>6.2} p95 {:>6.2} | api list p50 {:>6.2} p95 {:>6.2} | run page p50 {:>6.2} p95 {:>6.2} | artifacts p50 {:>6.2} p95 {:>6.2} | SSE {got}/{clients} clients in {fanout_ms:>4.0} ms | RSS {:.1} MiB (+{:.1} for the server)",
        runs_page.0,
        runs_page.1,
        runs_page.2 / 1024,
        filtered.0,
        filtered.1,
        api.0,
        api.1,
        run_page.0,
        run_page.1,
        artifacts.0,
        artifacts.1,
        rss_after as f64 / 1024.0,
        rss_after.saturating_sub(rss_before) as f64 / 1024.0,
        index = index_secs * 1000.0,
        newest = newest_secs * 1000.0,
    );
    rt.shutdown_timeout(Duration::from_millis(100));
}

fn main() {
    let sizes: Vec<usize> = std::env::var("ORX_BENCH_RUNS")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1_000, 10_000]);
    println!("dashboard benchmark (latencies over sequential requests from loopback)");
    for n in sizes {
        bench(n);
    }
}

/// A driver for a dashboard that starts no run.
#[derive(Debug)]
struct NoDriver(std::path::PathBuf);

impl orx_core::launch::DriverCommand for NoDriver {
    fn program(&self) -> &std::path::Path {
        &self.0
    }
    fn run_args(
        &self,
        _: &orx_core::launch::RunSpec,
        _: &std::path::Path,
    ) -> Vec<std::ffi::OsString> {
        Vec::new()
    }
    fn resume_args(&self, _: &orx_core::launch::ResumeSpec) -> Vec<std::ffi::OsString> {
        Vec::new()
    }
    fn cancel_args(&self, _: &std::path::Path, _: &str) -> Vec<std::ffi::OsString> {
        Vec::new()
    }
}
