//! A child's output pipes and their log files: lines split (and cut past a limit), redacted into
//! the log, handed to a callback; logs capped at a size with their head and tail kept.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{LOG_TAIL, Stream};
use crate::Result;

/// One output pipe of the child: the bytes read so far of a line not yet ended, and its log.
pub(super) struct Pipe {
    pub(super) file: std::fs::File,
    pub(super) stream: Stream,
    log: SharedLog,
    max_line: usize,
    /// The line being read (at most `max_line` bytes of it).
    line: Vec<u8>,
    /// The line has passed `max_line`: the rest of it is skipped.
    cut: bool,
    pub(super) closed: bool,
    /// Keep the bytes read (at most this many) in `captured` instead of splitting lines.
    pub(super) capture: Option<usize>,
    pub(super) captured: Vec<u8>,
    /// Bytes read in all.
    pub(super) seen: u64,
}

impl Pipe {
    pub(super) fn new(
        file: std::fs::File,
        stream: Stream,
        log: SharedLog,
        max_line: usize,
    ) -> Self {
        Self {
            file,
            stream,
            log,
            max_line,
            line: Vec::new(),
            cut: false,
            closed: false,
            capture: None,
            captured: Vec::new(),
            seen: 0,
        }
    }

    /// One read (the poll said it would not wait): every line it completes goes to the log and
    /// the callback; the log is flushed so a live tail sees them.
    pub(super) fn read(
        &mut self,
        chunk: &mut [u8],
        redactor: Option<&crate::redact::Redactor>,
        on_line: &mut dyn FnMut(Stream, &str),
    ) {
        let n = match self.file.read(chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            Err(_) => 0,
        };
        if n == 0 {
            self.closed = true;
            // A last line without a newline goes out now, before what the other stream says next.
            self.finish(redactor, on_line);
            return;
        }
        self.seen += n as u64;
        if let Some(limit) = self.capture {
            let room = limit.saturating_sub(self.captured.len());
            self.captured.extend_from_slice(&chunk[..n.min(room)]);
            if let Some(mut sink) = lock(&self.log) {
                sink.write(&chunk[..n]);
                sink.flush();
            }
            return;
        }
        let log = self.log.clone();
        let mut sink = lock(&log);
        let mut rest = &chunk[..n];
        while !rest.is_empty() {
            let (part, ended) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..=i], true),
                None => (rest, false),
            };
            rest = &rest[part.len()..];
            if !self.cut {
                let room = self.max_line - self.line.len();
                self.line.extend_from_slice(&part[..part.len().min(room)]);
                self.cut = part.len() > room;
            }
            if ended {
                self.emit(sink.as_deref_mut(), redactor, on_line);
            }
        }
        if let Some(sink) = sink.as_deref_mut() {
            sink.flush();
        }
    }

    /// Gives out the line read so far (ended by a newline, cut, or the last one of the output).
    fn emit(
        &mut self,
        log: Option<&mut LogSink>,
        redactor: Option<&crate::redact::Redactor>,
        on_line: &mut dyn FnMut(Stream, &str),
    ) {
        let text = String::from_utf8_lossy(&self.line);
        if let Some(log) = log {
            match redactor {
                Some(r) => log.write(r.redact_cow(&text).as_bytes()),
                None => log.write(&self.line),
            }
            if !self.line.ends_with(b"\n") {
                log.write(b"\n");
            }
        }
        on_line(self.stream, text.trim_end_matches(['\n', '\r']));
        self.line.clear();
        self.cut = false;
    }

    /// The last line, when the output did not end with a newline.
    pub(super) fn finish(
        &mut self,
        redactor: Option<&crate::redact::Redactor>,
        on_line: &mut dyn FnMut(Stream, &str),
    ) {
        if !self.line.is_empty() {
            let log = self.log.clone();
            self.emit(lock(&log).as_deref_mut(), redactor, on_line);
        }
    }
}

pub(super) type SharedLog = Option<Arc<Mutex<LogSink>>>;

/// The log's sink, when there is a log (a poisoned lock is taken over: a log is only bytes).
pub(super) fn lock(log: &SharedLog) -> Option<std::sync::MutexGuard<'_, LogSink>> {
    log.as_ref()
        .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()))
}

/// A log file with an optional size limit: the head is written as it comes, the bytes past the
/// limit are counted and only the last [`LOG_TAIL`] of them kept, to be written at the end.
pub(super) struct LogSink {
    file: std::io::BufWriter<std::fs::File>,
    written: u64,
    limit: u64,
    dropped: u64,
    tail: std::collections::VecDeque<u8>,
    finished: bool,
}

impl LogSink {
    pub(super) fn write(&mut self, bytes: &[u8]) {
        if self.finished {
            return;
        }
        let room = self.limit.saturating_sub(self.written);
        let head = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if head > 0 {
            let _ = self.file.write_all(&bytes[..head]);
            self.written += head as u64;
        }
        let rest = &bytes[head..];
        if rest.is_empty() {
            return;
        }
        self.dropped += rest.len() as u64;
        let keep = &rest[rest.len().saturating_sub(LOG_TAIL)..];
        let overflow = (self.tail.len() + keep.len()).saturating_sub(LOG_TAIL);
        self.tail.drain(..overflow.min(self.tail.len()));
        self.tail.extend(keep);
    }

    pub(super) fn flush(&mut self) {
        let _ = self.file.flush();
    }

    /// Writes the note and the kept tail of a log that passed its limit, and flushes.
    pub(super) fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.write_tail();
        self.flush();
    }

    fn write_tail(&mut self) {
        if self.dropped == 0 {
            return;
        }
        let tail: Vec<u8> = self.tail.drain(..).collect();
        if tail.len() as u64 == self.dropped {
            // Everything past the limit fits in the tail: nothing is left out after all.
            let _ = self.file.write_all(&tail);
            return;
        }
        // The tail starts at a line boundary when it has one.
        let start = tail.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
        let kept = &tail[start..];
        let note = format!(
            "\n[orx: this log reached its limit of {} MiB; {} bytes were left out; the last {} bytes follow]\n",
            self.limit >> 20,
            self.dropped - kept.len() as u64,
            kept.len()
        );
        let _ = self.file.write_all(note.as_bytes());
        let _ = self.file.write_all(kept);
    }
}

pub(super) fn open_log(path: Option<&PathBuf>, limit: Option<u64>) -> Result<SharedLog> {
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
            Ok(Some(Arc::new(Mutex::new(LogSink {
                file: std::io::BufWriter::with_capacity(64 * 1024, f.into_parts().0),
                written: 0,
                limit: limit.unwrap_or(u64::MAX),
                dropped: 0,
                tail: Default::default(),
                finished: false,
            }))))
        }
    }
}
