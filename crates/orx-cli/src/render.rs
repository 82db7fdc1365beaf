//! Text renderings shared by commands: events as lines, durations, tables.

use orx_core::run::Event;

/// "1.2s", "3m04s", "1h02m".
pub fn duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
        format!("{}m{:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (secs / 3600.0) as u64,
            ((secs % 3600.0) / 60.0) as u64
        )
    }
}

/// An RFC 3339 time (files keep UTC) in the local time zone, formatted with `fmt`.
fn local(ts: &str, fmt: &str) -> Option<String> {
    let t: jiff::Timestamp = ts.parse().ok()?;
    Some(
        t.to_zoned_datetime(jiff::tz::TimeZone::system())
            .strftime(fmt)
            .to_string(),
    )
}

/// The local HH:MM:SS of an RFC 3339 time.
pub fn clock(ts: &str) -> String {
    local(ts, "%H:%M:%S").unwrap_or_else(|| ts.get(11..19).unwrap_or(ts).to_string())
}

/// The local date and time of an RFC 3339 time, with the zone's abbreviation
/// ("2026-11-30 12:39:10 CET").
pub fn local_time(ts: &str) -> String {
    local(ts, "%Y-%m-%d %H:%M:%S %Z").unwrap_or_else(|| ts.to_string())
}

/// One event as a readable line.
pub fn event_line(e: &Event) -> String {
    let scope = match (&e.stage, &e.item, e.attempt) {
        (Some(s), Some(i), Some(a)) => format!("{s} {i}#{a}"),
        (Some(s), Some(i), None) => format!("{s} {i}"),
        (Some(s), None, _) => s.clone(),
        (None, _, _) => "run".to_string(),
    };
    format!("{} {:<18} {}", clock(&e.ts), scope, e.message)
}

/// A left-aligned text table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let n = cells.len();
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == n {
                    c
                } else {
                    let pad = widths[i].saturating_sub(c.chars().count());
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = vec![line(header.iter().map(|s| s.to_string()).collect())];
    for r in rows {
        out.push(line(r.clone()));
    }
    out.join("\n")
}
