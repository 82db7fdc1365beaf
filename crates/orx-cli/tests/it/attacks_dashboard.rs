//! Attacks on the dashboard's limits (RELIABILITY.md, "Attacks"): connections that never speak
//! or speak a byte at a time, event streams nobody reads, a diff too large to render, a pipeline
//! that names a file outside the repository.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bin;
use crate::dashboard::{Dash, repo_with_a_run, wait_for};

/// A field of /proc/<pid>/status in bytes (VmRSS, VmHWM).
fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// The sockets the process has open.
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

/// The status of a GET, or None when the connection failed or gave no answer in time.
fn try_get(addr: SocketAddr, target: &str, timeout: Duration) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// True when the server has closed `s` (a read ends or fails) within `within`.
fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

#[test]
fn idle_and_dripping_connections_are_closed_and_the_dashboard_answers_past_its_cap() {
    // This test holds hundreds of sockets itself.
    orx_core::run::sys::raise_file_limit();
    let (repo, _id) = repo_with_a_run();
    // A dashboard limited to 256 open files, as a small default would.
    let mut cmd = Command::new("sh");
    cmd.current_dir(repo.path())
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" dashboard --port 0")
        .arg(bin());
    for (k, v) in orx_testkit::GIT_ENV {
        cmd.env(k, v);
    }
    let d = Dash::spawn(cmd);
    let mut idle: Vec<TcpStream> = (0..400)
        .filter_map(|_| TcpStream::connect_timeout(&d.addr, Duration::from_secs(2)).ok())
        .collect();
    assert!(idle.len() > 300, "only {} connections", idle.len());
    // It answers at once: the page, or a 503 that says why while it is at its cap. A refusal
    // closed while the flood holds every lingering slot can be reset before it is read (the
    // request arrives after the close): the client tries again, as the 503 asks.
    let t = Instant::now();
    let mut status = None;
    while status.is_none() && t.elapsed() < Duration::from_secs(5) {
        status = try_get(d.addr, "/api/runs", Duration::from_secs(2));
    }
    assert!(
        matches!(status, Some(200 | 503)),
        "no answer with 400 idle connections: {status:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(
        sockets(d.pid()) < 200,
        "{} sockets under a limit of 256 files",
        sockets(d.pid())
    );
    // A request sent a byte every 300 ms never completes its headers in time: closed.
    let mut drip = TcpStream::connect(d.addr).unwrap();
    let mut writer = drip.try_clone().unwrap();
    let dripper = std::thread::spawn(move || {
        for b in b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n" {
            if writer.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    // Idle connections are closed at the header deadline; then every request is served.
    assert!(
        closed_by_server(&mut idle[0], Duration::from_secs(15)),
        "an idle connection stayed open"
    );
    assert!(
        closed_by_server(&mut drip, Duration::from_secs(15)),
        "a dripping connection stayed open"
    );
    wait_for(10, "the dashboard to serve again", || {
        try_get(d.addr, "/api/runs", Duration::from_secs(2)) == Some(200)
    });
    drop(idle);
    let _ = dripper.join();
}

/// Copies the run folder `id` under `n` new run ids; the last copy looks interrupted (so the
/// dashboard re-reads it on every tick).
fn many_runs(repo: &orx_testkit::TestRepo, id: &str, n: usize) -> String {
    let mut last = String::new();
    for i in 0..n {
        let new = format!("20261129_{i:06}_{:08x}", 0xabc0_0000_u32 + i as u32);
        let status = Command::new("cp")
            .arg("-r")
            .arg(repo.run_dir(id))
            .arg(repo.run_dir(&new))
            .status()
            .unwrap();
        assert!(status.success());
        last = new;
    }
    let st = repo.run_dir(&last).join("state.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&st).unwrap()).unwrap();
    v["status"] = "running".into();
    std::fs::write(&st, v.to_string()).unwrap();
    last
}

#[test]
fn event_streams_nobody_reads_are_dropped_and_cost_bounded_memory() {
    orx_core::run::sys::raise_file_limit();
    let (repo, id) = repo_with_a_run();
    many_runs(&repo, &id, 40);
    let d = Dash::start(&repo, &[]);
    let pid = d.pid();
    let base = memory(pid, "VmRSS");
    let sockets_before = sockets(pid);
    // 300 clients open the runs page's event stream and never read a byte of it.
    let clients: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(d.addr).unwrap();
            write!(
                s,
                "GET /events/runs HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
                d.addr
            )
            .unwrap();
            s
        })
        .collect();
    // Every 150 ms the 40 interrupted runs turn pending and back: each change sends their
    // 40 rows to every stream, far more than their sockets hold.
    let states: Vec<(std::path::PathBuf, String)> = (0..40u32)
        .map(|i| {
            let st = repo
                .run_dir(&format!("20261129_{i:06}_{:08x}", 0xabc0_0000_u32 + i))
                .join("state.json");
            let mut v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&st).unwrap()).unwrap();
            v["status"] = "running".into();
            (st, v.to_string())
        })
        .collect();
    let flip = move |n: u64| {
        for (st, text) in &states {
            let t = if n % 2 == 1 {
                text.replace("\"status\":\"running\"", "\"status\":\"pending\"")
            } else {
                text.clone()
            };
            let _ = std::fs::write(st, t);
        }
    };
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < Duration::from_secs(8) {
        n += 1;
        flip(n);
        std::thread::sleep(Duration::from_millis(150));
    }
    let grown = memory(pid, "VmHWM").saturating_sub(base);
    println!(
        "sse attack: 300 streams nobody reads, {n} changes: peak memory +{} MB",
        grown >> 20
    );
    assert!(
        grown < 64 << 20,
        "300 streams nobody reads cost {} MB",
        grown >> 20
    );
    // Their writes have stalled: the server drops them (and still serves everyone else). The
    // run keeps changing meanwhile, so every stream keeps having something to send: a stream is
    // found stalled by a write that does not go through (on a busy machine the first 8 s may
    // not have filled every socket's buffers).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 100_000u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                flip(n);
                std::thread::sleep(Duration::from_millis(150));
            }
        })
    };
    wait_for(60, "the stalled streams to be dropped", || {
        sockets(pid) <= sockets_before + 20
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = writer.join();
    assert_eq!(try_get(d.addr, "/", Duration::from_secs(5)), Some(200));
    drop(clients);
}

#[test]
fn a_diff_too_large_to_show_is_collapsed_with_a_download_and_costs_bounded_memory() {
    let (repo, id) = repo_with_a_run();
    // The run's patch holds a 40 MB generated file after a small one.
    let mut patch = repo.run_file(&id, "artifacts/patch.diff");
    let lines = 40 << 20 >> 6;
    patch.push_str(&format!(
        "diff --git a/data.csv b/data.csv\nnew file mode 100644\n--- /dev/null\n+++ b/data.csv\n@@ -0,0 +1,{lines} @@\n"
    ));
    for i in 0..lines {
        patch.push_str(&format!("+{i:>12},{:>49}\n", "row of generated data"));
    }
    std::fs::write(repo.run_dir(&id).join("artifacts/patch.diff"), &patch).unwrap();
    let d = Dash::start(&repo, &[]);
    let pid = d.pid();
    let base = memory(pid, "VmRSS");
    let page = d.get(&format!("/runs/{id}/tab/diff"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.len() < 1 << 20,
        "{} bytes of HTML",
        page.body.len()
    );
    assert!(page.body.contains("too large to show"), "{}", page.body);
    // minijinja writes `/` in attributes as `&#x2f;`.
    assert!(page.body.contains("diff.patch"), "{}", page.body);
    assert!(page.body.contains("a.txt"), "the small file is shown");
    let api = d.get(&format!("/api/runs/{id}/diff")).json();
    assert_eq!(api["truncated"], true);
    assert_eq!(api["bytes"].as_u64(), Some(patch.len() as u64));
    let grown = memory(pid, "VmHWM").saturating_sub(base);
    println!(
        "diff attack: a 40 MB diff: page {} KB of HTML, peak memory +{} MB",
        page.body.len() >> 10,
        grown >> 20
    );
    assert!(
        grown < 100 << 20,
        "showing a 40 MB diff cost {} MB",
        grown >> 20
    );
    // The download streams the whole patch.
    let dl = d.get(&format!("/runs/{id}/diff.patch"));
    assert_eq!(dl.status, 200);
    assert!(
        dl.header("content-disposition")
            .is_some_and(|v| v.contains("attachment")),
        "{:?}",
        dl.headers
    );
    assert_eq!(dl.body.len(), patch.len());
    let grown = memory(pid, "VmHWM").saturating_sub(base);
    assert!(
        grown < 100 << 20,
        "downloading a 40 MB diff cost {} MB",
        grown >> 20
    );
    // A 3 MB log previews its first 512 KiB, says so, and downloads whole.
    let log: String = (0..100_000)
        .map(|i| format!("log line {i:>20}\n"))
        .collect();
    std::fs::write(repo.run_dir(&id).join("logs/big.log"), &log).unwrap();
    let preview = d.get(&format!("/runs/{id}/preview?path=logs/big.log"));
    assert!(
        preview.body.contains("too large to show whole"),
        "{}",
        &preview.body[..300]
    );
    assert!(preview.body.len() < 2 << 20, "{} bytes", preview.body.len());
    assert!(
        preview.body.contains("raw?path=logs"),
        "{}",
        &preview.body[..300]
    );
    let raw = d.get(&format!("/runs/{id}/raw?path=logs/big.log"));
    assert_eq!(raw.body.len(), log.len());
    assert_eq!(
        d.get(&format!("/runs/{id}/raw?path=../../etc/passwd"))
            .status,
        400
    );
}

#[test]
fn a_pipeline_from_the_dashboard_is_an_id_or_a_file_inside_the_repository() {
    let (repo, _id) = repo_with_a_run();
    repo.write("pipes/mine.yaml", "id: mine\nstages: [plan]\n");
    let d = Dash::start(&repo, &[]);
    for bad in [
        "/etc/passwd",
        "../../../../etc/passwd",
        "pipes/../../../etc/passwd",
        "nope",
    ] {
        let r = d.post(
            "/api/runs",
            &serde_json::json!({"task": "x", "pipeline": bad}).to_string(),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(!r.body.contains("root:"), "{bad}: {}", r.body);
        assert!(r.body.contains("pipeline"), "{bad}: {}", r.body);
    }
    assert!(
        d.get("/api/runs").json()["queue"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A file inside the repository and a built-in id are taken.
    for good in ["pipes/mine.yaml", "plan_only"] {
        let r = d.post(
            "/api/runs",
            &serde_json::json!({"task": "x", "pipeline": good}).to_string(),
        );
        assert_eq!(r.status, 202, "{good}: {}", r.body);
    }
}
