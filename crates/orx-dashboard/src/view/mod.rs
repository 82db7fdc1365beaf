//! The templates (compiled in, auto-escaped), the small formatters they use, and the pieces
//! every page's view is made of: [`Markup`] for HTML drawn elsewhere, [`Tone`] for the colour
//! of a status, [`Chrome`] for the page frame.

use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment, Value};
use orx_core::protocol::{AttemptStatus, ItemStatus, Observed, StageStatus};
use serde::{Serialize, Serializer};

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
    for (name, src) in TEMPLATES {
        if let Err(e) = env.add_template(name, src) {
            // A broken template is a bug caught by the tests; render an error page instead.
            let _ = env.add_template_owned(
                name.to_string(),
                format!("template {name} does not compile: {}", e).replace('{', "("),
            );
        }
    }
    env.add_filter("duration", |v: f64| duration(v));
    env.add_filter("tokens", |v: u64| tokens(v));
    env.add_filter("cost", |v: f64| cost(v));
    env.add_filter("pct", |v: f64| format!("{:.0}%", v * 100.0));
    env.add_filter("short", |v: String| v.chars().take(10).collect::<String>());
    env.add_filter("bytes", |v: u64| bytes(v));
    env.add_filter("urlencode", |v: String| url_encode(&v));
    env.add_filter("anchor", |v: String| anchor(&v));
    env
});

const TEMPLATES: [(&str, &str); 13] = [
    ("base.html", include_str!("../../templates/base.html")),
    ("runs.html", include_str!("../../templates/runs.html")),
    (
        "runs_table.html",
        include_str!("../../templates/runs_table.html"),
    ),
    ("new_run.html", include_str!("../../templates/new_run.html")),
    ("run.html", include_str!("../../templates/run.html")),
    (
        "tabs_nav.html",
        include_str!("../../templates/tabs_nav.html"),
    ),
    (
        "run_header.html",
        include_str!("../../templates/run_header.html"),
    ),
    (
        "tab_overview.html",
        include_str!("../../templates/tab_overview.html"),
    ),
    (
        "tab_artifacts.html",
        include_str!("../../templates/tab_artifacts.html"),
    ),
    (
        "tab_diff.html",
        include_str!("../../templates/tab_diff.html"),
    ),
    (
        "tab_logs.html",
        include_str!("../../templates/tab_logs.html"),
    ),
    (
        "tab_metrics.html",
        include_str!("../../templates/tab_metrics.html"),
    ),
    ("metrics.html", include_str!("../../templates/metrics.html")),
];

/// Renders a template with a view; an error becomes a visible message rather than a panic.
pub fn render<V: Serialize>(name: &str, view: &V) -> String {
    let ctx = Value::from(minijinja::value::Serde(view));
    match ENV.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(s) => s,
        Err(e) => format!(
            "<p class=\"error\">the page could not be drawn: {}</p>",
            crate::highlight::escape(&e.to_string())
        ),
    }
}

/// `1m 05s`, `3.2s`.
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".into();
    }
    if secs < 60.0 {
        return format!("{secs:.1}s");
    }
    let s = secs.round() as u64;
    if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// How long ago `at` (RFC 3339) was, as people say it: "just now", "5 min ago", "3 h ago",
/// "2 days ago", past a week its date.
pub fn ago(at: &str) -> Option<String> {
    ago_from(at, jiff::Timestamp::now())
}

fn ago_from(at: &str, now: jiff::Timestamp) -> Option<String> {
    let t: jiff::Timestamp = at.parse().ok()?;
    let secs = now.duration_since(t).as_secs();
    Some(match secs {
        s if s < 60 => "just now".into(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s if s < 2 * 86_400 => "yesterday".into(),
        s if s < 7 * 86_400 => format!("{} days ago", s / 86_400),
        _ => at.get(..10)?.to_string(),
    })
}

/// `12.3k`, `1.2M`.
pub fn tokens(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// What a cell says when tokens were used and no price is known for their model.
pub const NO_PRICE: &str = "—";

/// `$0.0123`; `—` for tokens used at no known price (not free: `pricing` lacks the model).
pub fn cost_of(usd: f64, tokens: u64) -> String {
    if usd == 0.0 && tokens > 0 {
        NO_PRICE.to_string()
    } else {
        cost(usd)
    }
}

/// `$0.0123`.
pub fn cost(usd: f64) -> String {
    format!("${usd:.4}")
}

/// `1.2 KiB`.
pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// HTML drawn by the server (a highlighted file, a chart, a fragment): shown as is, never
/// escaped again.
#[derive(Clone, Debug, Default)]
pub struct Markup(pub String);

impl Serialize for Markup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Value::from_safe_string(self.0.clone()).serialize(s)
    }
}

/// The frame of a full page (base.html): its title, the session's CSRF token and which
/// entry of the navigation is lit.
#[derive(Clone, Debug, Serialize)]
pub struct Chrome {
    /// The page title.
    pub title: String,
    /// The CSRF token the page's forms send.
    pub csrf: String,
    /// The lit navigation entry: `runs`, `new` or `metrics`.
    pub nav: &'static str,
}

/// The colour of a status (its CSS class).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    /// Finished well.
    Ok,
    /// Failed or unreadable.
    Bad,
    /// Working now.
    Live,
    /// Waiting to start.
    Wait,
    /// Neither: stopped, skipped, interrupted.
    Idle,
}

/// A status with a colour.
pub trait Toned {
    /// Its colour.
    fn tone(self) -> Tone;
}

impl Toned for Observed {
    fn tone(self) -> Tone {
        match self {
            Observed::Succeeded => Tone::Ok,
            Observed::Failed | Observed::Corrupt => Tone::Bad,
            Observed::Running => Tone::Live,
            Observed::Queued | Observed::Pending | Observed::Waiting => Tone::Wait,
            Observed::Interrupted | Observed::Cancelled => Tone::Idle,
        }
    }
}

impl Toned for StageStatus {
    fn tone(self) -> Tone {
        match self {
            StageStatus::Done => Tone::Ok,
            StageStatus::Failed => Tone::Bad,
            StageStatus::Running => Tone::Live,
            StageStatus::Pending => Tone::Wait,
            StageStatus::Skipped => Tone::Idle,
        }
    }
}

impl Toned for ItemStatus {
    fn tone(self) -> Tone {
        match self {
            ItemStatus::Passed => Tone::Ok,
            ItemStatus::Failed => Tone::Bad,
            ItemStatus::Running => Tone::Live,
            ItemStatus::Pending => Tone::Wait,
            ItemStatus::Skipped => Tone::Idle,
        }
    }
}

impl Toned for AttemptStatus {
    fn tone(self) -> Tone {
        match self {
            AttemptStatus::Ok => Tone::Ok,
            AttemptStatus::Failed => Tone::Bad,
            AttemptStatus::Cancelled | AttemptStatus::Skipped => Tone::Idle,
        }
    }
}

/// The id of a diff's file on the page (`f-` and the path, other bytes as `_XX`): the same path
/// gives the same anchor wherever it is linked from.
pub fn anchor(path: &str) -> String {
    let mut out = String::from("f-");
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a query value (`/` kept, for paths inside a run folder).
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_as_how_long_ago() {
        let now: jiff::Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
        let ago = |at: &str| ago_from(at, now).unwrap();
        assert_eq!(ago("2026-11-30T11:59:30Z"), "just now");
        assert_eq!(ago("2026-11-30T11:55:00Z"), "5 min ago");
        assert_eq!(ago("2026-11-30T09:00:00Z"), "3 h ago");
        assert_eq!(ago("2026-11-29T09:00:00Z"), "yesterday");
        assert_eq!(ago("2026-11-27T12:00:00Z"), "3 days ago");
        assert_eq!(ago("2026-10-01T12:00:00Z"), "2026-10-01");
        assert_eq!(ago_from("not a time", now), None);
    }

    use super::*;

    #[test]
    fn tokens_at_no_known_price_are_not_shown_as_free() {
        assert_eq!(cost_of(0.0, 1200), NO_PRICE);
        assert_eq!(cost_of(0.0, 0), "$0.0000");
        assert_eq!(cost_of(0.01234, 1200), "$0.0123");
    }

    #[test]
    fn every_template_compiles() {
        for (name, _) in TEMPLATES {
            assert!(ENV.get_template(name).is_ok(), "{name}");
            let src = ENV.get_template(name).map(|t| t.source().to_string());
            assert!(
                !src.unwrap_or_default().starts_with("template "),
                "{name} does not compile"
            );
        }
    }

    #[test]
    fn formatters() {
        assert_eq!(duration(3.24), "3.2s");
        assert_eq!(duration(65.0), "1m 05s");
        assert_eq!(duration(7260.0), "2h 01m");
        assert_eq!(tokens(12_345), "12.3k");
        assert_eq!(bytes(2048), "2.0 KiB");
        assert_eq!(Observed::Failed.tone(), Tone::Bad);
        assert_eq!(url_encode("logs/a b&c"), "logs/a%20b%26c");
    }
}
