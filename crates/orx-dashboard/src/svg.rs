//! Charts drawn by the server as SVG (no charting script in the browser).

use crate::highlight::escape;

/// A chart's opening: the SVG element and its title (and "no data yet" when `empty`).
fn chart_open(title: &str, width: f64, height: f64, empty: bool) -> String {
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {width} {height}\" \
         width=\"{width}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <text x=\"0\" y=\"16\" class=\"ct\">{t}</text>",
        t = escape(title)
    );
    if empty {
        out.push_str("<text x=\"0\" y=\"44\" class=\"cl\">no data yet</text>");
    }
    out
}

/// A horizontal bar chart: one labelled bar per row, the value printed after it.
pub fn bars(title: &str, rows: &[(String, f64)], format: fn(f64) -> String) -> String {
    let max = rows.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    // Labels are never cut: the label column is as wide as the longest (7 px a character at
    // 12 px), the chart wider with it.
    let longest = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let label_w = (longest as f64 * 7.0 + 12.0).max(130.0);
    let bar_w = 360.0;
    let width = label_w + bar_w + 110.0;
    let row_h = 24.0;
    let height = row_h * rows.len().max(1) as f64 + 28.0;
    let mut out = chart_open(title, width, height, rows.is_empty());
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = 28.0 + i as f64 * row_h;
        let w = if max > 0.0 {
            (value / max * bar_w).max(1.0)
        } else {
            1.0
        };
        out.push_str(&format!(
            "<text x=\"{lx}\" y=\"{ty}\" class=\"cl\" text-anchor=\"end\">{label}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" rx=\"3\" class=\"cb\">\
             <title>{label}: {val}</title></rect>\
             <text x=\"{vx:.1}\" y=\"{ty}\" class=\"cv\">{val}</text>",
            lx = label_w - 8.0,
            ty = y + 12.5,
            vx = label_w + w + 6.0,
            label = escape(label),
            val = escape(&format(*value)),
        ));
    }
    out.push_str("</svg>");
    out
}

/// Columns over time: one per point (label under it, value above), each a link to what is
/// behind it.
pub fn columns(title: &str, points: &[(String, f64, String)], format: fn(f64) -> String) -> String {
    let max = points.iter().map(|p| p.1).fold(0.0_f64, f64::max);
    let (col_w, gap, top, chart_h) = (30.0, 10.0, 40.0, 120.0);
    let width = (points.len() as f64 * (col_w + gap)).max(300.0);
    let height = top + chart_h + 24.0;
    let mut out = chart_open(title, width, height, points.is_empty());
    for (i, (label, value, href)) in points.iter().enumerate() {
        let x = i as f64 * (col_w + gap);
        let h = if max > 0.0 {
            (value / max * chart_h).max(1.0)
        } else {
            1.0
        };
        let y = top + chart_h - h;
        let val = escape(&format(*value));
        out.push_str(&format!(
            "<a href=\"{href}\"><title>{label}: {val}</title>\
             <rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{col_w}\" height=\"{h:.1}\" rx=\"3\" class=\"cb\"/>\
             <text x=\"{cx:.1}\" y=\"{vy:.1}\" class=\"cv\" text-anchor=\"middle\">{val}</text>\
             <text x=\"{cx:.1}\" y=\"{ly:.1}\" class=\"cl\" text-anchor=\"middle\">{label}</text></a>",
            href = escape(href),
            label = escape(label),
            cx = x + col_w / 2.0,
            vy = y - 4.0,
            ly = top + chart_h + 16.0,
        ));
    }
    out.push_str("</svg>");
    out
}

/// How a bar of a waterfall ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Finished well.
    Ok,
    /// Failed.
    Failed,
    /// Still going.
    Running,
    /// Cancelled or skipped.
    Other,
}

impl Outcome {
    fn class(self) -> &'static str {
        match self {
            Self::Ok => "wf-ok",
            Self::Failed => "wf-bad",
            Self::Running => "wf-live",
            Self::Other => "wf-other",
        }
    }
}

/// One bar of a run's waterfall: a stage, or one attempt of an item.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Span {
    /// What it is ("plan", "W001 implement 1").
    pub label: String,
    /// Seconds from the run's start.
    pub start: f64,
    /// Seconds the agent took (drawn first, solid).
    pub agent: f64,
    /// Seconds in all (the rest: gates and orx's own work, lighter).
    pub total: f64,
    /// How it ended.
    pub outcome: Outcome,
    /// Its cost as a share of the run's costliest bar (0 to 1): the bar's shade.
    pub cost_share: f64,
    /// What its tooltip says.
    pub detail: String,
}

/// A run's waterfall: a row per stage and attempt, each a bar from its start to its end (the
/// agent's part solid, the gates' lighter), coloured by outcome and shaded by cost. A running
/// bar carries its start (`data-t0`) and the scale (`data-pxps`), so the page grows it.
pub fn waterfall(spans: &[Span], started: Option<&str>) -> String {
    let end = spans
        .iter()
        .map(|s| s.start + s.total)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    // A running bar has room to grow until the next redraw.
    let end = if spans.iter().any(|s| s.outcome == Outcome::Running) {
        end * 1.25 + 5.0
    } else {
        end
    };
    let (label_w, bar_w, row_h) = (150.0, 430.0, 20.0);
    let scale = bar_w / end;
    let height = row_h * spans.len().max(1) as f64 + 30.0;
    let mut out = format!(
        "<svg class=\"chart waterfall\" id=\"waterfall\" role=\"img\" aria-label=\"Timeline of the run: {n} bars\" \
         viewBox=\"0 0 600 {height}\" width=\"600\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">",
        n = spans.len()
    );
    if spans.is_empty() {
        out.push_str("<text x=\"0\" y=\"16\" class=\"cl\">nothing has run yet</text>");
    }
    for (i, s) in spans.iter().enumerate() {
        let y = i as f64 * row_h;
        let x = label_w + s.start * scale;
        let agent = (s.agent.min(s.total) * scale).max(0.0);
        let whole = (s.total * scale).max(2.0);
        let grow = match (s.outcome, started) {
            (Outcome::Running, Some(t0)) => format!(
                " data-t0=\"{}\" data-start=\"{:.3}\" data-pxps=\"{scale:.5}\" data-max=\"{:.1}\"",
                escape(t0),
                s.start,
                label_w + bar_w - x
            ),
            _ => String::new(),
        };
        out.push_str(&format!(
            "<g class=\"wf {class}\" fill-opacity=\"{op:.2}\"><title>{label}: {detail}</title>\
             <text x=\"{lx}\" y=\"{ty}\" class=\"cl\" text-anchor=\"end\">{label}</text>\
             <rect class=\"wf-all\" x=\"{x:.1}\" y=\"{ry}\" width=\"{whole:.1}\" height=\"14\" rx=\"2\"{grow}/>\
             <rect class=\"wf-agent\" x=\"{x:.1}\" y=\"{ry}\" width=\"{agent:.1}\" height=\"14\" rx=\"2\"/></g>",
            class = s.outcome.class(),
            op = 0.55 + 0.45 * s.cost_share.clamp(0.0, 1.0),
            label = escape(&s.label),
            detail = escape(&s.detail),
            lx = label_w - 8.0,
            ty = y + 12.0,
            ry = y + 2.0,
        ));
    }
    let axis = row_h * spans.len().max(1) as f64 + 16.0;
    out.push_str(&format!(
        "<text x=\"{label_w}\" y=\"{axis}\" class=\"cl\">0s</text>\
         <text x=\"{r}\" y=\"{axis}\" class=\"cl\" text-anchor=\"end\">{t}</text></svg>",
        r = label_w + bar_w,
        t = escape(&crate::view::duration(end)),
    ));
    out
}

/// A run's waterfall in small, for a row of the runs list: bars at their share of the run's
/// time, coloured by outcome.
pub fn mini(bars: &[(f32, f32, Outcome)]) -> String {
    if bars.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<svg class=\"mini\" viewBox=\"0 0 100 8\" width=\"80\" height=\"8\" aria-hidden=\"true\" \
         xmlns=\"http://www.w3.org/2000/svg\" preserveAspectRatio=\"none\">",
    );
    for (x, w, o) in bars {
        out.push_str(&format!(
            "<rect class=\"{}\" x=\"{:.1}\" y=\"0\" width=\"{:.1}\" height=\"8\"/>",
            o.class(),
            x * 100.0,
            (w * 100.0).max(1.0)
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_widen_the_chart_and_columns_link_to_their_runs() {
        let long = "fake/claude-sonnet-4-5-20250929";
        let svg = bars("Cost", &[(long.into(), 1.0)], |v| v.to_string());
        // 31 characters: a 229 px label column, the label ending at its edge, whole.
        assert!(svg.contains("viewBox=\"0 0 699 52\""), "{svg}");
        assert!(
            svg.contains(&format!("text-anchor=\"end\">{long}</text>")),
            "{svg}"
        );
        let cols = columns(
            "Success",
            &[
                ("11-29".into(), 0.5, "/?q=20261129".into()),
                ("11-30".into(), 1.0, "/?q=20261130".into()),
            ],
            |v| format!("{:.0}%", v * 100.0),
        );
        assert!(
            cols.contains("<a href=\"/?q=20261130\"><title>11-30: 100%</title>"),
            "{cols}"
        );
        assert!(
            cols.contains("height=\"60.0\"") && cols.contains("height=\"120.0\""),
            "{cols}"
        );
    }

    #[test]
    fn a_waterfall_places_each_bar_at_its_start_with_the_agents_part_first() {
        let span = |label: &str, start: f64, agent: f64, total: f64, outcome| Span {
            label: label.into(),
            start,
            agent,
            total,
            outcome,
            cost_share: 1.0,
            detail: "d".into(),
        };
        let svg = waterfall(
            &[
                span("plan", 0.0, 2.0, 2.0, Outcome::Ok),
                span("W001 implement 1", 2.0, 3.0, 5.0, Outcome::Failed),
                span("W001 fix 2", 7.0, 1.0, 3.0, Outcome::Running),
            ],
            Some("2026-11-30T10:00:00Z"),
        );
        // 10 s, with room for the running bar: 17.5 s over 430 px from x=150.
        assert!(
            svg.contains("<rect class=\"wf-all\" x=\"199.1\" y=\"22\" width=\"122.9\""),
            "{svg}"
        );
        assert!(
            svg.contains("<rect class=\"wf-agent\" x=\"199.1\" y=\"22\" width=\"73.7\""),
            "{svg}"
        );
        assert!(svg.contains("class=\"wf wf-bad\""), "{svg}");
        // The running bar can grow from its start.
        assert!(
            svg.contains("data-t0=\"2026-11-30T10:00:00Z\" data-start=\"7.000\""),
            "{svg}"
        );
        assert!(svg.contains(">17.5s</text>"), "{svg}");
        // Ended, the axis ends at the last bar's end: 43 px a second.
        let ended = waterfall(&[span("plan", 0.0, 2.0, 10.0, Outcome::Ok)], None);
        assert!(
            ended.contains("width=\"430.0\"") && ended.contains(">10.0s</text>"),
            "{ended}"
        );
        assert!(waterfall(&[], None).contains("nothing has run yet"));
        let m = mini(&[(0.0, 0.5, Outcome::Ok), (0.5, 0.5, Outcome::Failed)]);
        assert!(
            m.contains("x=\"50.0\" y=\"0\" width=\"50.0\"") && m.contains("wf-bad"),
            "{m}"
        );
    }

    #[test]
    fn bars_scale_to_the_largest_value_and_escape_labels() {
        let svg = bars(
            "Stage time",
            &[("plan".into(), 2.0), ("<x>".into(), 4.0)],
            |v| format!("{v:.1} s"),
        );
        assert!(svg.contains("width=\"360.0\""), "{svg}");
        assert!(svg.contains("width=\"180.0\""), "{svg}");
        assert!(svg.contains("&lt;x&gt;") && !svg.contains("<x>"), "{svg}");
        assert!(svg.contains("4.0 s"));
        assert!(bars("t", &[], |v| v.to_string()).contains("no data yet"));
    }
}
