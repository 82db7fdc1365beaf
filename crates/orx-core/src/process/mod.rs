//! The one way orx runs a child process: its own process group, stdin closed (or fed and
//! closed), stdout and stderr streamed line by line to log files and to a callback, and a
//! timeout or cancellation that stops the whole group (SIGTERM, grace, SIGKILL).

mod ledger;
mod pipe;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use ledger::{GroupLedger, ORPHAN_GRACE, RUN_MARK};
use pipe::{Pipe, lock, open_log};

use crate::cancel::CancelToken;
use crate::run::sys::{SIGKILL, SIGTERM, has_exited, pidfd_open, poll_readable, signal_group};
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

fn track(pgid: u32, on: bool, ledger: Option<&GroupLedger>) {
    if let Ok(mut groups) = ACTIVE_GROUPS.lock() {
        if on {
            groups.push(pgid);
        } else {
            groups.retain(|g| *g != pgid);
        }
    }
    if let Some(l) = ledger {
        if on {
            l.started(pgid);
        } else {
            l.ended(pgid);
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
    /// Arguments (paths from git may not be UTF-8).
    pub args: Vec<std::ffi::OsString>,
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
    /// The most bytes each log file receives from this process: past it, the log keeps its
    /// head, a note of what was left out, and the last [`LOG_TAIL`] bytes. None: no limit.
    pub log_limit: Option<u64>,
    /// Lines reach the callback whole, however long (git's output); otherwise lines are cut at
    /// [`MAX_LINE`] bytes.
    pub whole_lines: bool,
    /// Keep stdout's exact bytes, at most this many, in [`ProcessOutput::stdout`] (git's `-z`
    /// lists of paths that may not be UTF-8, diffs); stdout's lines then do not reach the
    /// callback, and bytes past the limit are counted, not kept.
    pub capture_stdout: Option<usize>,
    /// The run this child works for: its group is recorded in the run's ledger while alive, and
    /// it carries the run's mark ([`RUN_MARK`]) in its environment.
    pub ledger: Option<GroupLedger>,
    /// The child gets SIGKILL when orx dies (agents, gates). Off for git: a short local git
    /// command left to finish leaves no lock file behind, one killed mid-write does.
    pub die_with_parent: bool,
}

/// What a capped log keeps of its end.
pub const LOG_TAIL: usize = 1 << 20;

/// What one child (an agent call, a gate, a fix or setup command) may write to its log: a child
/// that prints more (a test suite in a loop, an agent that streams without end) keeps the first
/// 64 MiB and the last MiB, with a note of what was left out, instead of filling the disk.
pub const LOG_LIMIT: u64 = 64 << 20;

impl ProcessSpec {
    /// A spec for `program` with `args`.
    pub fn new(
        program: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<std::ffi::OsString>>,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            grace: Duration::from_secs(3),
            die_with_parent: true,
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

impl std::fmt::Display for Termination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Termination::Exited(c) => write!(f, "exit code {c}"),
            Termination::Signaled(s) => write!(f, "killed by signal {s}"),
            Termination::TimedOut => f.write_str("timed out"),
            Termination::Cancelled => f.write_str("cancelled"),
        }
    }
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
    /// stdout's exact bytes, when [`ProcessSpec::capture_stdout`] asked for them.
    pub stdout: Vec<u8>,
    /// How many bytes stdout had in all (more than `stdout.len()` when it passed the limit).
    pub stdout_bytes: u64,
}

impl ProcessOutput {
    /// True for exit code 0.
    pub fn success(&self) -> bool {
        self.termination == Termination::Exited(0)
    }
}

/// Runs `spec` to the end, calling `on_line` for every output line (in arrival order).
///
/// Everything happens on the calling thread: one `poll` over the child's two pipes, so a short
/// command (most are git's) costs a spawn and a few reads, not reader threads and a channel.
pub fn run(
    spec: &ProcessSpec,
    cancel: &CancelToken,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<ProcessOutput> {
    let started = Instant::now();
    let mut cmd = command(spec);
    // Logs first: a log that cannot be opened must not leave a started child behind.
    let out_log = open_log(spec.stdout_log.as_ref(), spec.log_limit)?;
    let err_log = if spec.stderr_log.is_some() && spec.stderr_log == spec.stdout_log {
        out_log.clone()
    } else {
        open_log(spec.stderr_log.as_ref(), spec.log_limit)?
    };
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: spec.program.clone(),
        source,
    })?;
    let pid = child.id();
    track(pid, true, spec.ledger.as_ref());
    let mut pipes = pipes(&mut child, spec, &out_log, &err_log);
    if let (Some(bytes), Some(mut stdin)) = (spec.stdin.clone(), child.stdin.take()) {
        // A writer thread, so a child that does not read its stdin cannot block us.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        });
    }
    let mut watch = Watch::new(pid, spec, started);
    let watched = watch.until_done(&mut pipes, cancel, spec, on_line);
    // Whatever happened, nothing of the group survives us; then the leader is reaped (at once:
    // it has exited). A status lost to an ignored SIGCHLD reads as exit code -1.
    signal_group(pid, SIGKILL);
    let status = child.wait().ok();
    track(pid, false, spec.ledger.as_ref());
    watched?;
    for p in &mut pipes {
        p.finish(spec.redactor.as_ref(), on_line);
    }
    let (stdout, stdout_bytes) = pipes
        .iter_mut()
        .find(|p| p.stream == Stream::Stdout)
        .map(|p| (std::mem::take(&mut p.captured), p.seen))
        .unwrap_or_default();
    for log in [&out_log, &err_log] {
        if let Some(mut sink) = lock(log) {
            sink.finish();
        }
    }
    let termination = watch.forced.unwrap_or_else(|| ended(status));
    Ok(ProcessOutput {
        termination,
        duration: started.elapsed(),
        pid,
        stdout,
        stdout_bytes,
    })
}

/// Starts `spec`'s program as a process that outlives orx (a detached run): its own process
/// group, stdin closed, stdout and stderr appended to `spec.stdout_log` and `spec.stderr_log`
/// (or discarded), no parent-death signal and no watch. The caller owns the child: it polls or
/// reaps it, and may drop it to leave the process running.
pub fn spawn_detached(spec: &ProcessSpec) -> Result<std::process::Child> {
    let sink = |path: Option<&PathBuf>| -> Result<Stdio> {
        Ok(match path {
            Some(p) => Stdio::from(
                fs_err::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?
                    .into_parts()
                    .0,
            ),
            None => Stdio::null(),
        })
    };
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(Stdio::null())
        .stdout(sink(spec.stdout_log.as_ref())?)
        .stderr(sink(spec.stderr_log.as_ref())?)
        .process_group(0);
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    cmd.spawn().map_err(|source| Error::Spawn {
        program: spec.program.clone(),
        source,
    })
}

/// The child's stdout and stderr as pipes to watch, each writing to its log.
fn pipes(
    child: &mut std::process::Child,
    spec: &ProcessSpec,
    out_log: &pipe::SharedLog,
    err_log: &pipe::SharedLog,
) -> Vec<Pipe> {
    let max_line = if spec.whole_lines {
        usize::MAX
    } else {
        MAX_LINE
    };
    let mut pipes: Vec<Pipe> = Vec::with_capacity(2);
    if let Some(out) = child.stdout.take() {
        let mut p = Pipe::new(
            std::os::fd::OwnedFd::from(out).into(),
            Stream::Stdout,
            out_log.clone(),
            max_line,
        );
        p.capture = spec.capture_stdout;
        pipes.push(p);
    }
    if let Some(err) = child.stderr.take() {
        pipes.push(Pipe::new(
            std::os::fd::OwnedFd::from(err).into(),
            Stream::Stderr,
            err_log.clone(),
            max_line,
        ));
    }
    pipes
}

/// How a child that was not stopped by orx ended. A status lost to an ignored SIGCHLD reads
/// as exit code -1.
fn ended(status: Option<std::process::ExitStatus>) -> Termination {
    match status.map(|s| (s.code(), s.signal())) {
        Some((Some(c), _)) => Termination::Exited(c),
        Some((None, Some(sig))) => Termination::Signaled(sig),
        _ => Termination::Exited(-1),
    }
}

/// The command for `spec`: its own process group, stdin closed or piped, the run's mark, and
/// (unless asked otherwise) death with its parent.
fn command(spec: &ProcessSpec) -> Command {
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
    if let Some(l) = &spec.ledger {
        cmd.env(RUN_MARK, l.run_id());
    }
    // The child dies with the thread that waits for it (whatever kills orx): what it started
    // in its group is ended by the next orx from the ledger.
    if spec.die_with_parent {
        crate::run::sys::die_with_parent(&mut cmd);
    }
    cmd
}

/// Watching a running child: its output, its exit, its deadline and a cancellation.
struct Watch {
    pid: u32,
    deadline: Option<Instant>,
    grace: Duration,
    /// Set when orx stopped the child (timeout, cancel).
    forced: Option<Termination>,
    term_sent_at: Option<Instant>,
    /// When the leader exited. It is left unreaped (a zombie) until the end, so its pid, which
    /// is also the group's id, cannot be reused while orx still signals the group.
    leader_exited_at: Option<Instant>,
    /// The child's exit wakes the same poll as its output (a child closes its output a moment
    /// before it can be reaped: sleeping for that moment cost a short git command a fifth of its
    /// time). Without a pidfd, the waits for the exit start short and grow to 25 ms.
    exit_fd: Option<std::os::fd::OwnedFd>,
    idle_wait: Duration,
    chunk: Vec<u8>,
}

impl Watch {
    fn new(pid: u32, spec: &ProcessSpec, started: Instant) -> Self {
        Self {
            pid,
            deadline: spec.timeout.map(|t| started + t),
            grace: spec.grace,
            forced: None,
            term_sent_at: None,
            leader_exited_at: None,
            exit_fd: pidfd_open(pid),
            idle_wait: Duration::from_micros(200),
            chunk: vec![0u8; 64 * 1024],
        }
    }

    /// Reads and watches until the leader has exited and the pipes are closed (or held open by
    /// an escaped grandchild for 5 s).
    fn until_done(
        &mut self,
        pipes: &mut [Pipe],
        cancel: &CancelToken,
        spec: &ProcessSpec,
        on_line: &mut dyn FnMut(Stream, &str),
    ) -> Result<()> {
        loop {
            self.read(pipes, spec, on_line)?;
            // A child reaped elsewhere (SIGCHLD ignored) counts as exited: waiting on would spin
            // on a ready pidfd or never end.
            if self.leader_exited_at.is_none() && has_exited(self.pid).unwrap_or(false) {
                self.leader_exited_at = Some(Instant::now());
                // Stragglers (background children) would keep our pipes open: stop the group.
                if self.forced.is_none() {
                    signal_group(self.pid, SIGKILL);
                }
            }
            if let Some(t) = self.leader_exited_at
                && (pipes.iter().all(|p| p.closed) || t.elapsed() > Duration::from_secs(5))
            {
                return Ok(());
            }
            self.enforce(cancel);
        }
    }

    /// One wait for output or the exit (at most 25 ms), and the reads it allows.
    fn read(
        &mut self,
        pipes: &mut [Pipe],
        spec: &ProcessSpec,
        on_line: &mut dyn FnMut(Stream, &str),
    ) -> Result<()> {
        let open: Vec<usize> = (0..pipes.len()).filter(|i| !pipes[*i].closed).collect();
        let exit_watch = self
            .exit_fd
            .as_ref()
            .filter(|_| self.leader_exited_at.is_none());
        if open.is_empty() && exit_watch.is_none() {
            if self.leader_exited_at.is_none() {
                std::thread::sleep(self.idle_wait);
                self.idle_wait = (self.idle_wait * 2).min(Duration::from_millis(25));
            }
            return Ok(());
        }
        let mut fds: Vec<_> = open.iter().map(|i| pipes[*i].file.as_raw_fd()).collect();
        fds.extend(exit_watch.map(|fd| fd.as_raw_fd()));
        // The exit descriptor's readiness needs no read: the caller checks the exit. A poll
        // that fails (only without memory) ends the watch; the caller stops the group.
        let ready = poll_readable(&fds, Duration::from_millis(25))?;
        for (i, _) in open.iter().zip(ready).filter(|(_, r)| *r) {
            pipes[*i].read(&mut self.chunk, spec.redactor.as_ref(), on_line);
        }
        Ok(())
    }

    /// A cancellation or the deadline stops the group: SIGTERM, then SIGKILL after the grace.
    fn enforce(&mut self, cancel: &CancelToken) {
        if self.forced.is_none() && self.leader_exited_at.is_none() {
            if cancel.is_cancelled() {
                self.forced = Some(Termination::Cancelled);
            } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.forced = Some(Termination::TimedOut);
            }
            if self.forced.is_some() {
                signal_group(self.pid, SIGTERM);
                self.term_sent_at = Some(Instant::now());
            }
        }
        if let Some(t) = self.term_sent_at
            && t.elapsed() >= self.grace
        {
            signal_group(self.pid, SIGKILL);
            self.term_sent_at = None;
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
    capture_spec(&spec)
}

/// Runs `spec` to its end (or its timeout); returns (success, stdout, stderr).
pub fn capture_spec(spec: &ProcessSpec) -> Result<(bool, String, String)> {
    let (mut out, mut err) = (String::new(), String::new());
    let res = run(spec, &CancelToken::new(), &mut |s, l| {
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
