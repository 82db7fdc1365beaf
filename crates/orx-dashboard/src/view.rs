//! The templates (compiled in, auto-escaped) and the small formatters they use.

use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment, Value};

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
    env.add_filter("cost", |v: f64| format!("${v:.4}"));
    env.add_filter("pct", |v: f64| format!("{:.0}%", v * 100.0));
    env.add_filter("short", |v: String| v.chars().take(10).collect::<String>());
    env.add_filter("bytes", |v: u64| bytes(v));
    env.add_filter("urlencode", |v: String| crate::pages::url_encode(&v));
    env
});

const TEMPLATES: [(&str, &str); 12] = [
    ("base.html", include_str!("../templates/base.html")),
    ("runs.html", include_str!("../templates/runs.html")),
    (
        "runs_table.html",
        include_str!("../templates/runs_table.html"),
    ),
    ("new_run.html", include_str!("../templates/new_run.html")),
    ("run.html", include_str!("../templates/run.html")),
    (
        "run_header.html",
        include_str!("../templates/run_header.html"),
    ),
    (
        "tab_overview.html",
        include_str!("../templates/tab_overview.html"),
    ),
    (
        "tab_artifacts.html",
        include_str!("../templates/tab_artifacts.html"),
    ),
    ("tab_diff.html", include_str!("../templates/tab_diff.html")),
    ("tab_logs.html", include_str!("../templates/tab_logs.html")),
    (
        "tab_metrics.html",
        include_str!("../templates/tab_metrics.html"),
    ),
    ("metrics.html", include_str!("../templates/metrics.html")),
];

/// Renders a template; an error becomes a visible message rather than a panic.
pub fn render(name: &str, ctx: Value) -> String {
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

/// `12.3k`, `1.2M`.
pub fn tokens(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `1.2 KiB`.
pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// A status's CSS class.
pub fn status_class(status: &str) -> &'static str {
    match status {
        "succeeded" | "passed" | "done" | "ok" => "ok",
        "failed" | "corrupt" => "bad",
        "running" | "in_progress" | "implementing" | "verifying" => "live",
        "queued" | "pending" => "wait",
        _ => "idle",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(status_class("failed"), "bad");
    }
}
