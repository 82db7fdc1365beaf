//! The live progress display: a spinner line (stage, item, attempt, elapsed) on a terminal,
//! plain lines otherwise. It is an event listener; the engine knows nothing of it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use orx_core::protocol::{Event, EventBody, StageStatus};
use orx_core::run::Listener;

use crate::printer::Printer;
use crate::render::{duration, event_line};

/// Builds the listener for `printer` (None with -q).
pub fn listener(printer: Printer) -> Option<(Listener, Option<ProgressBar>)> {
    if printer.quiet {
        return None;
    }
    if printer.tty {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        pb.set_style(
            ProgressStyle::with_template("{spinner:.cyan} {wide_msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.enable_steady_tick(Duration::from_millis(120));
        let bar = pb.clone();
        let stage = Arc::new(Mutex::new(String::new()));
        let l: Listener = Arc::new(move |e: &Event| on_event_tty(&bar, &stage, printer, e));
        Some((l, Some(pb)))
    } else {
        let l: Listener = Arc::new(move |e: &Event| {
            if shown(e) {
                printer.info(&event_line(e));
            }
        });
        Some((l, None))
    }
}

/// Events worth a line of their own.
fn shown(e: &Event) -> bool {
    !matches!(
        e.body,
        EventBody::AgentStarted | EventBody::GateStarted | EventBody::AgentActivity
    )
}

/// At most `max` characters of `s`, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn on_event_tty(pb: &ProgressBar, stage: &Mutex<String>, printer: Printer, e: &Event) {
    // The bar writes to the terminal itself: what agents wrote is sanitized here.
    let e = &sanitized(e);
    match &e.body {
        EventBody::StageStarted => {
            if let Ok(mut s) = stage.lock() {
                *s = e.stage.clone().unwrap_or_default();
            }
            pb.reset_elapsed();
            pb.set_message(e.stage.clone().unwrap_or_default());
        }
        EventBody::StageFinished {
            status,
            duration_secs,
        } => {
            let mark = match status {
                StageStatus::Done => printer.paint("✓", "32"),
                StageStatus::Skipped => printer.paint("-", "2"),
                _ => printer.paint("✗", "31"),
            };
            let stage = e.stage.as_deref().unwrap_or("");
            let prefix = format!("{stage} {status}: ");
            let note = e.message.strip_prefix(&prefix).unwrap_or(&e.message);
            pb.println(format!(
                "{mark} {stage:<17} {:>7}  {note}",
                duration(*duration_secs)
            ));
        }
        EventBody::AgentActivity => {
            // The agent's latest action, on the line that says which stage and attempt.
            let s = stage.lock().map(|s| s.clone()).unwrap_or_default();
            let at = match (&e.item, e.attempt) {
                (Some(i), Some(a)) => format!("{s} · {i} attempt {a}"),
                _ => s,
            };
            // `wide_msg` cuts the line to the terminal's width.
            pb.set_message(clip(&format!("{at} · {}", e.message), 240));
        }
        EventBody::AgentStarted
        | EventBody::GateStarted
        | EventBody::AttemptStarted
        | EventBody::AttemptResumed => {
            let s = stage.lock().map(|s| s.clone()).unwrap_or_default();
            let what = match (&e.item, e.attempt) {
                (Some(i), Some(a)) => format!("{s} · {i} attempt {a} · {}", e.message),
                _ => format!("{s} · {}", e.message),
            };
            pb.set_message(what);
        }
        EventBody::GateFinished(_)
        | EventBody::AttemptFailed { .. }
        | EventBody::ItemFinished { .. }
        | EventBody::ItemSkipped
        | EventBody::Warning
        | EventBody::Guardrail
        | EventBody::Ship => {
            pb.println(format!("  {}", event_line(e)));
        }
        // Checks change state while the stage waits: the line says where they are.
        EventBody::Ci(_) => pb.set_message(format!("ci · {}", e.message)),
        EventBody::RunFinished { .. } => pb.finish_and_clear(),
        EventBody::RunStarted { .. }
        | EventBody::RunResumed
        | EventBody::ItemStarted
        | EventBody::ItemSetAside
        | EventBody::AgentFinished(_) => {}
    }
}

/// The event with its text fields free of terminal controls.
fn sanitized(e: &Event) -> Event {
    let clean = |s: &str| crate::term::sanitize(s).into_owned();
    let mut e = e.clone();
    e.message = clean(&e.message);
    e.stage = e.stage.as_deref().map(clean);
    e.item = e.item.as_deref().map(clean);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_shows_the_agents_latest_action() {
        let pb = ProgressBar::hidden();
        let stage = Mutex::new(String::new());
        let printer = Printer {
            quiet: false,
            verbose: 0,
            color: false,
            tty: true,
        };
        let started = Event::new(EventBody::StageStarted, "implement started").stage("implement");
        on_event_tty(&pb, &stage, printer, &started);
        let act = Event::new(EventBody::AgentActivity, "runs `pytest -q`\u{1b}[2J")
            .stage("implement")
            .item("W001")
            .attempt(2);
        on_event_tty(&pb, &stage, printer, &act);
        assert_eq!(
            pb.message(),
            "implement · W001 attempt 2 · runs `pytest -q`"
        );
        assert!(
            !shown(&act),
            "not a line of its own when there is no terminal"
        );
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
