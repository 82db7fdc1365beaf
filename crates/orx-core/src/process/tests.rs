use super::*;
use crate::run::sys::group_alive;

fn sh(script: &str) -> ProcessSpec {
    ProcessSpec::new("sh", ["-c", script])
}

#[test]
fn streams_lines_in_order_to_callback_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = sh("echo one; echo two >&2; printf 'three'");
    spec.stdout_log = Some(dir.path().join("out.log"));
    spec.stderr_log = Some(dir.path().join("out.log"));
    let mut seen = Vec::new();
    let out = run(&spec, &CancelToken::new(), &mut |s, l| {
        seen.push((s, l.to_string()))
    })
    .unwrap();
    assert!(out.success());
    assert!(seen.contains(&(Stream::Stdout, "one".into())));
    assert!(seen.contains(&(Stream::Stderr, "two".into())));
    assert!(seen.contains(&(Stream::Stdout, "three".into())));
    let log = std::fs::read_to_string(dir.path().join("out.log")).unwrap();
    assert!(
        log.contains("one\n") && log.contains("two\n") && log.contains("three\n"),
        "{log}"
    );
}

#[test]
fn stdin_is_fed_then_closed() {
    let mut spec = ProcessSpec::new("cat", Vec::<String>::new());
    spec.stdin = Some(b"hello\nworld\n".to_vec());
    let mut lines = Vec::new();
    let out = run(&spec, &CancelToken::new(), &mut |_, l| {
        lines.push(l.to_string())
    })
    .unwrap();
    assert!(out.success());
    assert_eq!(lines, ["hello", "world"]);
}

#[test]
fn stdin_is_closed_by_default() {
    // `cat` with no input must see EOF at once instead of hanging.
    let mut spec = ProcessSpec::new("cat", Vec::<String>::new());
    spec.timeout = Some(Duration::from_secs(10));
    let out = run(&spec, &CancelToken::new(), &mut |_, _| {}).unwrap();
    assert!(out.success());
}

#[test]
fn timeout_kills_the_whole_group_even_a_child_that_ignores_term() {
    let mut spec = sh("trap '' TERM; (trap '' TERM; sleep 300) & sleep 300");
    spec.timeout = Some(Duration::from_millis(300));
    spec.grace = Duration::from_millis(200);
    let out = run(&spec, &CancelToken::new(), &mut |_, _| {}).unwrap();
    assert_eq!(out.termination, Termination::TimedOut);
    assert!(out.duration < Duration::from_secs(10));
    // Zombies are reaped by init; wait a little for the group to be empty.
    assert!(
        wait_group_empty(out.pid),
        "a process of group {} survived",
        out.pid
    );
}

#[test]
fn cancellation_stops_the_group() {
    let cancel = CancelToken::new();
    let c2 = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        c2.cancel();
    });
    let mut spec = sh("sleep 300 & sleep 300");
    spec.grace = Duration::from_millis(200);
    let out = run(&spec, &cancel, &mut |_, _| {}).unwrap();
    assert_eq!(out.termination, Termination::Cancelled);
    assert!(
        wait_group_empty(out.pid),
        "a process of group {} survived",
        out.pid
    );
}

fn wait_group_empty(pgid: u32) -> bool {
    for _ in 0..100 {
        if !group_alive(pgid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_child_that_leaves_the_group_does_not_hang_the_run() {
    // setsid puts the sleeper in its own session: it keeps our pipes open after the leader exits.
    let mut spec = sh("setsid sleep 30 & echo $!");
    spec.timeout = Some(Duration::from_secs(60));
    let t0 = std::time::Instant::now();
    let mut lines = Vec::new();
    let out = run(&spec, &CancelToken::new(), &mut |_, l| {
        lines.push(l.to_string())
    })
    .unwrap();
    let elapsed = t0.elapsed();
    let escaped: u32 = lines[0].parse().unwrap();
    crate::run::sys::signal_pid(escaped, crate::run::sys::SIGKILL);
    assert!(out.success());
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
}

#[test]
fn a_background_straggler_does_not_hang_the_reader() {
    let mut spec = sh("sleep 300 & echo done");
    spec.timeout = Some(Duration::from_secs(20));
    let mut lines = Vec::new();
    let out = run(&spec, &CancelToken::new(), &mut |_, l| {
        lines.push(l.to_string())
    })
    .unwrap();
    assert!(out.success());
    assert!(out.duration < Duration::from_secs(10));
    assert_eq!(lines, ["done"]);
}

#[test]
fn exit_code_and_missing_program() {
    let out = run(&sh("exit 3"), &CancelToken::new(), &mut |_, _| {}).unwrap();
    assert_eq!(out.termination, Termination::Exited(3));
    let err = run(
        &ProcessSpec::new("orx-no-such-program", ["x"]),
        &CancelToken::new(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("orx-no-such-program"), "{err}");
}

#[test]
fn very_long_lines_are_capped() {
    let spec = sh("head -c 3000000 /dev/zero | tr '\\0' 'a'; echo; echo after");
    let mut lens = Vec::new();
    run(&spec, &CancelToken::new(), &mut |_, l| lens.push(l.len())).unwrap();
    assert_eq!(lens, [MAX_LINE, 5]);
}

#[test]
fn a_capped_log_keeps_its_head_a_note_and_its_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gate.log");
    // 40,000 numbered lines of 101 bytes: 4 MB through a 1 MiB limit and the 1 MiB tail.
    let mut spec = sh(
        "i=0; while [ $i -lt 40000 ]; do printf '%08d %091d\\n' $i 0; i=$((i+1)); done; echo LAST",
    );
    spec.stdout_log = Some(log.clone());
    spec.stderr_log = Some(log.clone());
    spec.log_limit = Some(1 << 20);
    let mut lines = 0usize;
    let out = run(&spec, &CancelToken::new(), &mut |_, _| lines += 1).unwrap();
    assert!(out.success());
    assert_eq!(
        lines, 40_001,
        "the callback sees every line whatever the log keeps"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let limit = 1usize << 20;
    assert!(
        text.len() <= limit + LOG_TAIL + 200,
        "log of {} bytes",
        text.len()
    );
    assert!(text.starts_with("00000000 "), "the head is kept");
    assert!(
        !text.contains("\n00020000 "),
        "a line from the middle was kept"
    );
    let note = text
        .lines()
        .find(|l| l.starts_with("[orx: this log reached its limit of 1 MiB"))
        .expect("a note says what was left out");
    assert!(note.contains("bytes were left out"), "{note}");
    assert!(
        text.ends_with("LAST\n"),
        "the tail is kept: {}",
        &text[text.len() - 200..]
    );
    assert!(
        text.contains("\n00039999 "),
        "the last numbered line is kept"
    );
    // The tail starts on a line boundary: every line after the note is whole.
    let after = text.split_once("follow]\n").unwrap().1;
    assert!(
        after.lines().all(|l| l == "LAST" || l.len() == 100),
        "a torn line after the note"
    );
}

#[test]
fn a_log_under_its_limit_and_tail_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gate.log");
    let mut spec = sh("echo one; echo two");
    spec.stdout_log = Some(log.clone());
    spec.log_limit = Some(1 << 20);
    run(&spec, &CancelToken::new(), &mut |_, _| {}).unwrap();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\n");
    // Past the limit by less than the tail: nothing is left out, and no note.
    let mut spec = sh("i=0; while [ $i -lt 300 ]; do echo \"line $i\"; i=$((i+1)); done");
    let log = dir.path().join("small.log");
    spec.stdout_log = Some(log.clone());
    spec.log_limit = Some(100);
    run(&spec, &CancelToken::new(), &mut |_, _| {}).unwrap();
    let expected: String = (0..300).map(|i| format!("line {i}\n")).collect();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), expected);
}

#[test]
fn long_lines_are_cut_unless_whole_lines_are_asked_for() {
    let script = format!("head -c {} /dev/zero | tr '\\0' x; echo", MAX_LINE * 3);
    let mut longest = 0;
    run(&sh(&script), &CancelToken::new(), &mut |_, l| {
        longest = longest.max(l.len())
    })
    .unwrap();
    assert_eq!(longest, MAX_LINE);
    let mut spec = sh(&script);
    spec.whole_lines = true;
    let mut longest = 0;
    run(&spec, &CancelToken::new(), &mut |_, l| {
        longest = longest.max(l.len())
    })
    .unwrap();
    assert_eq!(longest, MAX_LINE * 3);
}

#[test]
fn a_line_written_in_pieces_arrives_whole_and_a_long_one_is_cut_across_reads() {
    // Each piece is a separate write, a moment apart: the runner sees them in separate reads.
    let dir = tempfile::tempdir().unwrap();
    let long = MAX_LINE + 300_000;
    let script = format!(
        "printf 'hel'; sleep 0.05; printf 'lo\\r\\n'; sleep 0.05; head -c {long} /dev/zero | tr '\\0' x; \
         printf '\\nafter\\n'; printf 'err-'; sleep 0.05; printf 'line' >&2; printf 'end'"
    );
    let mut spec = sh(&script);
    spec.stdout_log = Some(dir.path().join("out.log"));
    let mut seen = Vec::new();
    let out = run(&spec, &CancelToken::new(), &mut |s, l| {
        seen.push((s, l.len(), l.chars().take(8).collect::<String>()))
    })
    .unwrap();
    assert!(out.success());
    let stdout: Vec<_> = seen.iter().filter(|(s, ..)| *s == Stream::Stdout).collect();
    assert_eq!(stdout[0].2, "hello", "{seen:?}");
    assert_eq!((stdout[1].1, stdout[1].2.as_str()), (MAX_LINE, "xxxxxxxx"));
    assert_eq!(stdout[2].2, "after");
    // The last line had no newline: it still arrives, once.
    assert_eq!(stdout[3].2, "err-end");
    assert_eq!(stdout.len(), 4, "{seen:?}");
    assert!(
        seen.contains(&(Stream::Stderr, 4, "line".into())),
        "{seen:?}"
    );
    let log = std::fs::read(dir.path().join("out.log")).unwrap();
    assert!(log.starts_with(b"hello\r\nxxx"));
    assert!(log.ends_with(b"\nafter\nerr-end\n"));
    assert_eq!(log.len(), 7 + MAX_LINE + 1 + 6 + 8);
}

#[test]
fn a_stream_ending_without_a_newline_gives_its_last_line_before_later_lines_of_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = sh("printf partial; exec 1>&-; sleep 0.3; echo later >&2");
    spec.stdout_log = Some(dir.path().join("out.log"));
    spec.stderr_log = Some(dir.path().join("out.log"));
    let mut seen = Vec::new();
    let out = run(&spec, &CancelToken::new(), &mut |s, l| {
        seen.push((s, l.to_string()))
    })
    .unwrap();
    assert!(out.success());
    assert_eq!(
        seen,
        [
            (Stream::Stdout, "partial".to_string()),
            (Stream::Stderr, "later".to_string())
        ]
    );
    let log = std::fs::read_to_string(dir.path().join("out.log")).unwrap();
    assert_eq!(log, "partial\nlater\n");
}

#[test]
fn the_group_is_stopped_while_the_exited_leader_still_holds_its_id() {
    // The leader exits at once; its background child stays in the group. The runner must signal
    // the group before reaping the leader (has_exited peeks without reaping).
    let mut spec = sh("sleep 30 & echo $!");
    spec.timeout = Some(Duration::from_secs(20));
    let mut lines = Vec::new();
    let out = run(&spec, &CancelToken::new(), &mut |_, l| {
        lines.push(l.to_string())
    })
    .unwrap();
    assert!(out.success());
    let straggler: u32 = lines[0].parse().unwrap();
    assert!(out.duration < Duration::from_secs(10));
    assert!(
        wait_group_empty(out.pid),
        "the group is empty after the run"
    );
    assert!(!crate::run::sys::pid_alive(straggler));
}

#[test]
fn has_exited_peeks_without_reaping() {
    let mut child = std::process::Command::new("sh")
        .args(["-c", "exit 7"])
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut tries = 0;
    while !crate::run::sys::has_exited(pid).unwrap() {
        tries += 1;
        assert!(tries < 1000, "the child never exited");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Still reapable, with its status: the peek did not reap it.
    assert!(crate::run::sys::has_exited(pid).unwrap());
    assert_eq!(child.wait().unwrap().code(), Some(7));
}

#[test]
fn the_ledger_ends_only_groups_that_still_carry_the_runs_mark() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let ledger = GroupLedger::new(
        dir.path().join("processes.jsonl"),
        "20261130_000000_0000abcd",
    );
    // A child of the run that left a grandchild behind: recorded, marked, still alive.
    let mut ours = std::process::Command::new("sh")
        .args(["-c", "sleep 30 & wait"])
        .env(RUN_MARK, "20261130_000000_0000abcd")
        .process_group(0)
        .spawn()
        .unwrap();
    // A group whose id the ledger holds but that is not the run's (a reused id, another run).
    let mut other = std::process::Command::new("sh")
        .args(["-c", "sleep 30 & wait"])
        .env(RUN_MARK, "20261130_000000_ffffffff")
        .process_group(0)
        .spawn()
        .unwrap();
    let (a, b) = (ours.id(), other.id());
    ledger.started(a);
    ledger.started(b);
    // A group that ended is not looked at again.
    ledger.started(4_000_000);
    ledger.ended(4_000_000);
    std::thread::sleep(Duration::from_millis(100));
    let ended = ledger.end_orphans(Duration::from_millis(500));
    assert_eq!(ended, [a]);
    assert!(wait_group_empty(a), "the run's group survived");
    assert!(group_alive(b), "another run's group was hit");
    assert!(
        !dir.path().join("processes.jsonl").exists(),
        "the ledger is emptied"
    );
    crate::run::sys::signal_group(b, crate::run::sys::SIGKILL);
    let _ = ours.wait();
    let _ = other.wait();
}
