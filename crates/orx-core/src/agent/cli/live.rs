//! A call's usage while it runs, for CLIs whose stream shows it only at the end: codex, gemini
//! and copilot record each model response's tokens in their own session files (codex's rollout
//! `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*-<thread>.jsonl`, gemini's chat record
//! `$HOME/.gemini/tmp/<project>/chats/session-*-<id8>.jsonl`, copilot's
//! `$COPILOT_HOME/session-state/<session>/events.jsonl`; each checked against the real CLI). A
//! watcher reads the file of the call's session as it grows and tells the meter (`budget.hard`).
//! Codex with `--ephemeral` keeps no rollout: its calls are metered at their end, as cursor's.

use std::collections::HashMap;
use std::io::{BufRead, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::agent::{Meter, Usage};
use crate::config::ExecutorKind;

/// How often the watcher looks at the session file.
const POLL: Duration = Duration::from_millis(200);

/// Where a CLI keeps its session files.
#[derive(Debug, Clone)]
enum Records {
    /// Codex's `sessions` folder.
    Codex(PathBuf),
    /// Gemini's `tmp` folder (one folder per project).
    Gemini(PathBuf),
    /// Copilot's `session-state` folder and the call's working directory (copilot's stream
    /// names its session only at the end: its session is the one started there).
    Copilot(PathBuf, PathBuf),
}

impl Records {
    /// The records of `kind`, found from the environment the CLI gets (`lookup`).
    fn of(kind: ExecutorKind, cwd: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> Option<Self> {
        let home = || lookup("HOME").map(PathBuf::from);
        match kind {
            ExecutorKind::Codex => {
                let root = lookup("CODEX_HOME")
                    .map(PathBuf::from)
                    .or_else(|| home().map(|h| h.join(".codex")))?;
                Some(Self::Codex(root.join("sessions")))
            }
            ExecutorKind::Gemini => {
                let root = lookup("GEMINI_CLI_HOME").map(PathBuf::from).or_else(home)?;
                Some(Self::Gemini(root.join(".gemini").join("tmp")))
            }
            ExecutorKind::Copilot => {
                let root = lookup("COPILOT_HOME")
                    .map(PathBuf::from)
                    .or_else(|| home().map(|h| h.join(".copilot")))?;
                Some(Self::Copilot(root.join("session-state"), cwd.to_path_buf()))
            }
            _ => None,
        }
    }

    /// The file of the call's session (`id`, once its stream said it), once the CLI made it.
    fn find(&self, id: Option<&str>, since: jiff::Timestamp) -> Option<PathBuf> {
        match (self, id) {
            (Self::Copilot(dir, cwd), _) => {
                let here = [Some(cwd.clone()), cwd.canonicalize().ok()];
                entries(dir)
                    .into_iter()
                    .map(|d| d.join("events.jsonl"))
                    .filter(|f| {
                        f.metadata()
                            .and_then(|m| m.modified())
                            .is_ok_and(|t| jiff::Timestamp::try_from(t).is_ok_and(|t| t >= since))
                    })
                    .find(|f| {
                        let first = std::fs::File::open(f)
                            .ok()
                            .and_then(|f| std::io::BufReader::new(f).lines().next())
                            .and_then(|l| l.ok())
                            .and_then(|l| super::json(&l))
                            .unwrap_or_default();
                        let started = first["data"]["startTime"]
                            .as_str()
                            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
                        first["type"] == "session.start"
                            && started.is_some_and(|t| t >= since)
                            && first["data"]["context"]["cwd"]
                                .as_str()
                                .is_some_and(|c| here.contains(&Some(PathBuf::from(c))))
                    })
            }
            (_, None) => None,
            (Self::Codex(sessions), Some(id)) => {
                let suffix = format!("-{id}.jsonl");
                // The newest two days hold a session that is running (a call across midnight).
                newest(sessions, 1)
                    .into_iter()
                    .flat_map(|y| newest(&y, 2))
                    .flat_map(|m| newest(&m, 2))
                    .take(2)
                    .flat_map(|d| entries(&d))
                    .find(|f| name_of(f).ends_with(&suffix))
            }
            (Self::Gemini(tmp), Some(id)) => {
                let short: String = id.chars().take(8).collect();
                let suffix = format!("-{short}.jsonl");
                entries(tmp)
                    .into_iter()
                    .flat_map(|p| entries(&p.join("chats")))
                    .find(|f| {
                        let n = name_of(f);
                        n.starts_with("session-") && n.ends_with(&suffix)
                    })
            }
        }
    }
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// The `n` entries of `dir` with the greatest names (codex's year, month and day folders).
fn newest(dir: &Path, n: usize) -> Vec<PathBuf> {
    let mut all = entries(dir);
    all.sort();
    all.into_iter().rev().take(n).collect()
}

/// What a session file said so far about the call that started at `since`.
#[derive(Debug, Default)]
struct Tally {
    /// Codex: the thread's totals before the call (a continued thread) and the newest one.
    before: Usage,
    latest: Option<Usage>,
    /// Gemini and copilot: each model response's tokens, by record id (gemini writes a message
    /// again as it grows).
    messages: HashMap<String, Usage>,
}

impl Tally {
    fn line(&mut self, records: &Records, since: jiff::Timestamp, line: &str) {
        let Some(v) = super::json(line) else { return };
        let at = v["timestamp"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let Some(at) = at else { return };
        match records {
            Records::Codex(_) => {
                if v["type"] != "event_msg" || v["payload"]["type"] != "token_count" {
                    return;
                }
                let t = &v["payload"]["info"]["total_token_usage"];
                if !t.is_object() {
                    return;
                }
                let total = Usage {
                    input: super::u(t, "input_tokens"),
                    cached_input: super::u(t, "cached_input_tokens"),
                    output: super::u(t, "output_tokens"),
                    reasoning: super::u(t, "reasoning_output_tokens"),
                };
                if at < since {
                    self.before = total;
                } else {
                    self.latest = Some(total);
                }
            }
            Records::Copilot(..) => {
                let (Some(id), true) = (v["id"].as_str(), v["type"] == "session.usage_record")
                else {
                    return;
                };
                let t = &v["data"]["usage"];
                if at >= since && t.is_object() {
                    self.messages.insert(
                        id.to_string(),
                        Usage {
                            input: super::u(t, "inputTokens"),
                            cached_input: super::u(t, "cacheReadTokens"),
                            output: super::u(t, "outputTokens"),
                            reasoning: 0,
                        },
                    );
                }
            }
            Records::Gemini(_) => {
                let (Some(id), true) = (v["id"].as_str(), v["type"] == "gemini") else {
                    return;
                };
                let t = &v["tokens"];
                if at >= since && t.is_object() {
                    self.messages.insert(
                        id.to_string(),
                        Usage {
                            input: super::u(t, "input"),
                            cached_input: super::u(t, "cached"),
                            output: super::u(t, "output"),
                            reasoning: super::u(t, "thoughts"),
                        },
                    );
                }
            }
        }
    }

    fn usage(&self) -> Usage {
        match &self.latest {
            Some(latest) => latest.minus(&self.before),
            None => self.messages.values().fold(Usage::default(), |a, m| Usage {
                input: a.input + m.input,
                cached_input: a.cached_input + m.cached_input,
                output: a.output + m.output,
                reasoning: a.reasoning + m.reasoning,
            }),
        }
    }
}

/// A watcher of one call's session file; stops when dropped.
pub(super) struct Watcher {
    session: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Usage>>,
}

impl Watcher {
    /// Starts watching for a call of `kind` that starts now, when its usage has a listener and
    /// the CLI keeps session files orx can read. `lookup` reads the CLI's environment.
    pub(super) fn start(
        kind: ExecutorKind,
        cwd: &Path,
        meter: Option<&Meter>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Self> {
        let meter = meter?.clone();
        let records = Records::of(kind, cwd, lookup)?;
        let since = jiff::Timestamp::now();
        let session: Arc<Mutex<Option<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (session.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("orx-usage".into())
            .spawn(move || watch(&records, since, &s, &st, &meter))
            .ok()?;
        Some(Self {
            session,
            stop,
            thread: Some(thread),
        })
    }

    /// The call's session id, once its stream said it.
    pub(super) fn session(&self, id: &str) {
        if let Ok(mut s) = self.session.lock()
            && s.is_none()
        {
            *s = Some(id.to_string());
        }
    }
}

impl Watcher {
    /// Stops watching: the usage the session file showed for the call (read once more).
    pub(super) fn finish(mut self) -> Usage {
        self.stop_thread()
    }

    fn stop_thread(&mut self) -> Usage {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .and_then(|t| {
                t.thread().unpark();
                t.join().ok()
            })
            .unwrap_or_default()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

fn watch(
    records: &Records,
    since: jiff::Timestamp,
    session: &Mutex<Option<String>>,
    stop: &AtomicBool,
    meter: &Meter,
) -> Usage {
    let mut file: Option<(std::io::BufReader<std::fs::File>, u64)> = None;
    let mut tally = Tally::default();
    let mut told = Usage::default();
    let mut line = String::new();
    loop {
        let last = stop.load(Ordering::SeqCst);
        if !last {
            std::thread::park_timeout(POLL);
        }
        if file.is_none() {
            let id = session.lock().ok().and_then(|s| s.clone());
            file = records
                .find(id.as_deref(), since)
                .and_then(|p| std::fs::File::open(p).ok())
                .map(|f| (std::io::BufReader::new(f), 0));
        }
        let Some((reader, pos)) = file.as_mut() else {
            if last {
                return tally.usage();
            }
            continue;
        };
        // Whole lines only: a line the CLI is still writing is read again next time.
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(n) if n > 0 && line.ends_with('\n') => {
                    *pos += n as u64;
                    tally.line(records, since, &line);
                }
                _ => {
                    let _ = reader.seek(SeekFrom::Start(*pos));
                    break;
                }
            }
        }
        let now = tally.usage();
        if last {
            return now;
        }
        if now != told {
            told = now;
            (meter.0)(&now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_continued_codex_thread_counts_from_the_call_start() {
        let r = Records::Codex(PathBuf::new());
        let mut t = Tally::default();
        let tc = |at: &str, i: u64, o: u64| {
            format!(
                r#"{{"timestamp":"{at}","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{{"input_tokens":{i},"cached_input_tokens":0,"output_tokens":{o},"reasoning_output_tokens":0}}}}}}}}"#
            )
        };
        let since = ts("2026-11-30T19:40:07.000Z");
        t.line(&r, since, &tc("2026-11-30T19:39:00.000Z", 500, 50));
        t.line(&r, since, &tc("2026-11-30T19:40:07.500Z", 700, 60));
        t.line(
            &r,
            since,
            r#"{"timestamp":"2026-11-30T19:40:08.000Z","type":"event_msg","payload":{"type":"token_count","info":null}}"#,
        );
        t.line(&r, since, &tc("2026-11-30T19:40:09.000Z", 900, 75));
        let u = t.usage();
        assert_eq!((u.input, u.output), (400, 25));
    }

    #[test]
    fn a_gemini_message_written_twice_counts_once() {
        let r = Records::Gemini(PathBuf::new());
        let mut t = Tally::default();
        let since = ts("2026-11-30T19:40:08.000Z");
        let m = |id: &str, at: &str, i: u64| {
            format!(
                r#"{{"id":"{id}","timestamp":"{at}","type":"gemini","content":"","tokens":{{"input":{i},"output":10,"cached":0,"thoughts":0,"tool":0,"total":0}}}}"#
            )
        };
        t.line(&r, since, &m("old", "2026-11-30T19:39:00.000Z", 999));
        t.line(&r, since, &m("a", "2026-11-30T19:40:08.959Z", 100));
        t.line(&r, since, &m("a", "2026-11-30T19:40:08.959Z", 100));
        t.line(&r, since, &m("b", "2026-11-30T19:40:09.100Z", 123));
        t.line(
            &r,
            since,
            r#"{"id":"u","timestamp":"2026-11-30T19:40:09.200Z","type":"user","content":[]}"#,
        );
        let u = t.usage();
        assert_eq!((u.input, u.output), (223, 20));
    }

    #[test]
    fn session_files_are_found_by_their_id() {
        let d = tempfile::tempdir().unwrap();
        let day = d.path().join("sessions/2026/11/30");
        std::fs::create_dir_all(&day).unwrap();
        std::fs::create_dir_all(d.path().join("sessions/2026/11/29")).unwrap();
        let f = day.join("rollout-2026-11-30T19-40-07-01a22df8-aaaa.jsonl");
        std::fs::write(&f, "").unwrap();
        let codex = Records::Codex(d.path().join("sessions"));
        let since = ts("2020-01-01T00:00:00Z");
        assert_eq!(codex.find(Some("01a22df8-aaaa"), since), Some(f));
        assert_eq!(codex.find(Some("01a22df8-bbbb"), since), None);
        assert_eq!(codex.find(None, since), None);
        let chats = d.path().join("tmp/work/chats");
        std::fs::create_dir_all(&chats).unwrap();
        let g = chats.join("session-2026-11-30T19-40-27d55e5d.jsonl");
        std::fs::write(&g, "").unwrap();
        let gemini = Records::Gemini(d.path().join("tmp"));
        assert_eq!(gemini.find(Some("27d55e5d-52ad-458b"), since), Some(g));
        // Copilot's: the session started in the call's folder since the call began.
        let state = d.path().join("session-state");
        let start = |cwd: &str, at: &str| {
            format!(
                r#"{{"type":"session.start","data":{{"sessionId":"x","startTime":"{at}","context":{{"cwd":"{cwd}"}}}}}}"#
            ) + "\n"
        };
        for (name, cwd, at) in [
            ("old", "/work/a", "2019-12-31T00:00:00Z"),
            ("other", "/work/b", "2026-11-30T19:44:07.211Z"),
            ("this", "/work/a", "2026-11-30T19:44:07.211Z"),
        ] {
            std::fs::create_dir_all(state.join(name)).unwrap();
            std::fs::write(state.join(name).join("events.jsonl"), start(cwd, at)).unwrap();
        }
        let copilot = Records::Copilot(state.clone(), PathBuf::from("/work/a"));
        assert_eq!(
            copilot.find(None, since),
            Some(state.join("this").join("events.jsonl"))
        );
    }
}
