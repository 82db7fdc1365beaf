//! The one way orx runs a child process: its own process group, stdin closed (or fed and
//! closed), stdout and stderr streamed line by line to log files and to a callback, and a
//! timeout or cancellation that stops the whole group (SIGTERM, grace, SIGKILL).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::run::sys::{SIGKILL, SIGTERM, signal_group};
use crate::{Error, Result};

/// Lines longer than this are cut (the log keeps the cut line, marked).
pub const MAX_LINE: usize = 1 << 20;

/// Process groups started by this process and not yet finished, so an emergency exit (a second
/// Ctrl-C) can stop them all.
static ACTIVE_GROUPS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// SIGKILLs every process group this process started that is still running.
pub fn kill_active_groups() {
    if let Ok(groups) = ACTIVE_GROUPS.lock() {
        for pgid in groups.iter() {
            signal_group(*pgid, SIGKILL);
        }
    }
}

fn track(pgid: u32, on: bool) {
    if let Ok(mut groups) = ACTIVE_GROUPS.lock() {
        if on {
            groups.push(pgid);
        } else {
            groups.retain(|g| *g != pgid);
        }
    }
}

/// Which stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct ProcessSpec {
    /// Program (name on PATH or path).
    pub program: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Bytes written to stdin, which is then closed. None: stdin is /dev/null.
    pub stdin: Option<Vec<u8>>,
    /// Kill the group after this long.
    pub timeout: Option<Duration>,
    /// Grace between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Where stdout lines go.
    pub stdout_log: Option<PathBuf>,
    /// Where stderr lines go (may be the same file as stdout).
    pub stderr_log: Option<PathBuf>,
    /// Secrets masked in the log files (the callback still sees the raw lines).
    pub redactor: Option<crate::redact::Redactor>,
}

impl ProcessSpec {
    /// A spec for `program` with `args`.
    pub fn new(
        program: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            grace: Duration::from_secs(3),
            ..Self::default()
        }
    }
}

/// How the child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal (not by orx).
    Signaled(i32),
    /// orx killed it at the timeout.
    TimedOut,
    /// orx killed it on cancellation.
    Cancelled,
}

/// The result of a finished child.
#[derive(Clone, Debug)]
pub struct ProcessOutput {
    /// How it ended.
    pub termination: Termination,
    /// Wall time.
    pub duration: Duration,
    /// The child's pid (also its process group id).
    pub pid: u32,
}

impl ProcessOutput {
    /// True for exit code 0.
    pub fn success(&self) -> bool {
        self.termination == Termination::Exited(0)
    }
}

enum Msg {
    Line(Stream, String),
    Done,
}

/// Runs `spec` to the end, calling `on_line` for every output line (in arrival order).
pub fn run(
    spec: &ProcessSpec,
    cancel: &CancelToken,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<ProcessOutput> {
    let started = Instant::now();
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    // Logs first: a log that cannot be opened must not leave a started child behind.
    let out_log = open_log(spec.stdout_log.as_ref())?;
    let err_log = if spec.stderr_log.is_some() && spec.stderr_log == spec.stdout_log {
        out_log.clone()
    } else {
        open_log(spec.stderr_log.as_ref())?
    };
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: spec.program.clone(),
        source,
    })?;
    let pid = child.id();
    track(pid, true);

    let (tx, rx) = mpsc::channel::<Msg>();
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(pump(
            out,
            Stream::Stdout,
            out_log,
            tx.clone(),
            spec.redactor.clone(),
        ));
    }
    if let Some(err) = child.stderr.take() {
        pumps.push(pump(
            err,
            Stream::Stderr,
            err_log,
            tx.clone(),
            spec.redactor.clone(),
        ));
    }
    drop(tx);
    if let (Some(bytes), Some(mut stdin)) = (spec.stdin.clone(), child.stdin.take()) {
        // A writer thread, so a child that does not read its stdin cannot block us.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        });
    }

    let deadline = spec.timeout.map(|t| started + t);
    let mut forced: Option<Termination> = None;
    let mut term_sent_at: Option<Instant> = None;
    let mut open_pumps = pumps.len();
    let mut exit_status = None;
    let mut leader_exited_at: Option<Instant> = None;
    let mut pipes_abandoned = false;
    loop {
        if open_pumps == 0 {
            // Output closed but the child lives on: wait without spinning.
            std::thread::sleep(Duration::from_millis(25));
        } else {
            match rx.recv_timeout(Duration::from_millis(25)) {
                Ok(Msg::Line(s, l)) => on_line(s, &l),
                Ok(Msg::Done) => open_pumps -= 1,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => open_pumps = 0,
            }
        }
        if exit_status.is_none()
            && let Ok(Some(st)) = child.try_wait()
        {
            exit_status = Some(st);
            leader_exited_at = Some(Instant::now());
            // Stragglers (background children) would keep our pipes open: stop the group.
            if forced.is_none() {
                signal_group(pid, SIGKILL);
            }
        }
        if exit_status.is_some() && open_pumps == 0 {
            break;
        }
        // Bound the wait for pipes held open by a grandchild that escaped the group.
        if leader_exited_at.is_some_and(|t| t.elapsed() > Duration::from_secs(5)) {
            pipes_abandoned = true;
            break;
        }
        if forced.is_none() && exit_status.is_none() {
            if cancel.is_cancelled() {
                forced = Some(Termination::Cancelled);
            } else if deadline.is_some_and(|d| Instant::now() >= d) {
                forced = Some(Termination::TimedOut);
            }
            if forced.is_some() {
                signal_group(pid, SIGTERM);
                term_sent_at = Some(Instant::now());
            }
        }
        if let Some(t) = term_sent_at
            && t.elapsed() >= spec.grace
        {
            signal_group(pid, SIGKILL);
            term_sent_at = None;
        }
    }
    // Whatever happened, nothing of the group survives us.
    signal_group(pid, SIGKILL);
    let status = match exit_status {
        Some(s) => s,
        None => child.wait()?,
    };
    track(pid, false);
    if pipes_abandoned {
        // A process that left the group (setsid, a daemon) still holds the pipes: its reader
        // threads are left to end with it rather than blocking this run.
        drop(pumps);
    } else {
        for p in pumps {
            let _ = p.join();
        }
    }
    while let Ok(Msg::Line(s, l)) = rx.try_recv() {
        on_line(s, &l);
    }
    let termination = match forced {
        Some(f) => f,
        None => match (status.code(), status.signal()) {
            (Some(c), _) => Termination::Exited(c),
            (None, Some(sig)) => Termination::Signaled(sig),
            (None, None) => Termination::Exited(-1),
        },
    };
    Ok(ProcessOutput {
        termination,
        duration: started.elapsed(),
        pid,
    })
}

type SharedLog = Option<Arc<Mutex<std::fs::File>>>;

fn open_log(path: Option<&PathBuf>) -> Result<SharedLog> {
    match path {
        None => Ok(None),
        Some(p) => {
            if let Some(dir) = p.parent() {
                fs_err::create_dir_all(dir)?;
            }
            let f = fs_err::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?;
            Ok(Some(Arc::new(Mutex::new(f.into_parts().0))))
        }
    }
}

fn pump(
    src: impl Read + Send + 'static,
    stream: Stream,
    log: SharedLog,
    tx: mpsc::Sender<Msg>,
    redactor: Option<crate::redact::Redactor>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(64 * 1024, src);
        let mut buf = Vec::with_capacity(8 * 1024);
        loop {
            buf.clear();
            let n = match read_line_capped(&mut reader, &mut buf, MAX_LINE) {
                Ok(n) => n,
                Err(_) => break,
            };
            if n == 0 {
                break;
            }
            if let Some(log) = &log
                && let Ok(mut f) = log.lock()
            {
                match &redactor {
                    Some(r) => {
                        let text = r.redact(&String::from_utf8_lossy(&buf));
                        let _ = f.write_all(text.as_bytes());
                    }
                    None => {
                        let _ = f.write_all(&buf);
                    }
                }
                if !buf.ends_with(b"\n") {
                    let _ = f.write_all(b"\n");
                }
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']).to_string();
            if tx.send(Msg::Line(stream, line)).is_err() {
                break;
            }
        }
        let _ = tx.send(Msg::Done);
    })
}

/// Reads one line into `buf`, keeping at most `cap` bytes of it (the rest is skipped).
fn read_line_capped(r: &mut impl BufRead, buf: &mut Vec<u8>, cap: usize) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(total);
        }
        let (used, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..used.min(room)]);
        total += used;
        r.consume(used);
        if done {
            return Ok(total);
        }
    }
}

/// Runs a short command to completion and returns (success, stdout, stderr). For git and
/// version probes: no logs, no group kill needed beyond the timeout.
pub fn capture(
    program: &str,
    args: &[&str],
    cwd: Option<&std::path::Path>,
    timeout: Duration,
) -> Result<(bool, String, String)> {
    let mut spec = ProcessSpec::new(program, args.iter().copied());
    spec.cwd = cwd.map(PathBuf::from);
    spec.timeout = Some(timeout);
    let (mut out, mut err) = (String::new(), String::new());
    let res = run(&spec, &CancelToken::new(), &mut |s, l| {
        let b = if s == Stream::Stdout {
            &mut out
        } else {
            &mut err
        };
        b.push_str(l);
        b.push('\n');
    })?;
    Ok((res.success(), out, err))
}

#[cfg(test)]
mod tests;
