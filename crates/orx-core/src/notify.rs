//! Notifications (SPEC §16): when a run ends or waits, each configured notifier is told: a
//! webhook gets the event POSTed (orx's JSON or Slack's body, through `curl`), a command gets it
//! on its standard input, the desktop gets a `notify-send`. A notifier that fails is logged
//! (`logs/notify.log`) and tried twice more; none fails the run, and each try is bounded in time.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::cancel::CancelToken;
use crate::config::{NotifyConfig, NotifyEvent, NotifyFormat};
use crate::process::{ProcessSpec, run};
use crate::redact::Redactor;

/// How long one try of one notifier may take.
pub const TRY_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries per notifier: the first and two more.
const TRIES: u32 = 3;

/// What notifiers are told: orx's JSON event.
#[derive(Clone, Debug, Serialize)]
pub struct Notice {
    /// `succeeded`, `failed`, `waiting`, `cancelled` or `interrupted`.
    pub event: &'static str,
    /// The run.
    pub run_id: String,
    /// The task's summary.
    pub task: String,
    /// The run branch.
    pub branch: String,
    /// Why it failed or what it waits for.
    pub detail: Option<String>,
    /// What it spent.
    pub cost_usd: f64,
    /// How long it ran.
    pub duration_secs: f64,
}

impl Notice {
    /// One line for people (Slack, the desktop).
    pub fn line(&self) -> String {
        let mut s = format!("orx run {} {}: {}", self.run_id, self.event, self.task);
        if let Some(d) = &self.detail {
            s.push_str(&format!(" ({d})"));
        }
        s
    }
}

/// The event's name.
pub fn event_name(e: NotifyEvent) -> &'static str {
    match e {
        NotifyEvent::Succeeded => "succeeded",
        NotifyEvent::Failed => "failed",
        NotifyEvent::Waiting => "waiting",
        NotifyEvent::Cancelled => "cancelled",
        NotifyEvent::Interrupted => "interrupted",
    }
}

/// Tells every notifier of `notifiers` that listens to `event`; what happens is logged to `log`
/// (redacted: webhook URLs carry secrets in their paths).
pub fn send(
    notifiers: &[NotifyConfig],
    event: NotifyEvent,
    notice: &Notice,
    log: &Path,
    redactor: &Redactor,
) {
    for n in notifiers
        .iter()
        .filter(|n| n.on.is_empty() || n.on.contains(&event))
    {
        if let Some(url) = &n.webhook {
            let body = match n.format {
                NotifyFormat::Json => serde_json::to_string(notice).unwrap_or_default(),
                NotifyFormat::Slack => serde_json::json!({ "text": notice.line() }).to_string(),
            };
            let args = vec![
                "-sS".to_string(),
                "--fail".into(),
                "-m".into(),
                TRY_TIMEOUT.as_secs().to_string(),
                "-X".into(),
                "POST".into(),
                "-H".into(),
                "Content-Type: application/json".into(),
                "--data-binary".into(),
                "@-".into(),
                url.to_string(),
            ];
            let shown = format!("webhook {}", shown_url(url.as_str()));
            deliver(&shown, "curl", &args, body, (log, redactor));
        }
        if let Some(cmd) = n.command.as_ref().filter(|c| !c.is_empty()) {
            let body = serde_json::to_string(notice).unwrap_or_default();
            let args: Vec<String> = cmd[1..].iter().map(|a| a.to_string()).collect();
            let shown = format!("command `{}`", cmd[0].as_str());
            deliver(&shown, cmd[0].as_str(), &args, body, (log, redactor));
        }
        if n.desktop && crate::agent::find_program("notify-send").is_some() {
            let args = vec!["orx".to_string(), notice.line()];
            deliver(
                "desktop",
                "notify-send",
                &args,
                String::new(),
                (log, redactor),
            );
        }
    }
}

/// A URL as logs show it: its scheme and host, not its path (a webhook's secret).
fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split('/').next().unwrap_or("");
    if scheme.is_empty() {
        "(a URL)".into()
    } else {
        format!("{scheme}://{host}/…")
    }
}

/// Runs one notifier up to [`TRIES`] times, each within [`TRY_TIMEOUT`]; logs each failure.
fn deliver(
    what: &str,
    program: &str,
    args: &[String],
    stdin: String,
    (log, redactor): (&Path, &Redactor),
) {
    for attempt in 1..=TRIES {
        let mut spec = ProcessSpec::new(program.to_string(), args.iter().cloned());
        spec.stdin = Some(stdin.clone().into_bytes());
        spec.timeout = Some(TRY_TIMEOUT + Duration::from_secs(1));
        let mut said = String::new();
        let result = run(&spec, &CancelToken::new(), &mut |_, l| {
            if said.len() < 2000 {
                said.push_str(l);
                said.push('\n');
            }
        });
        let outcome = match result {
            Ok(o) if o.success() => {
                let _ = crate::fsutil::append_line(log, &format!("{what}: told (try {attempt})"));
                return;
            }
            Ok(o) => format!("ended {:?}: {}", o.termination, said.trim()),
            Err(e) => e.to_string(),
        };
        let line = redactor.redact(&format!(
            "{what}: try {attempt} of {TRIES} failed: {outcome}"
        ));
        let _ = crate::fsutil::append_line(log, &line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_is_logged_without_its_path() {
        assert_eq!(
            shown_url("https://hooks.example.invalid/services/T0/B0/secret"),
            "https://hooks.example.invalid/…"
        );
        assert_eq!(shown_url("nonsense"), "(a URL)");
    }
}
