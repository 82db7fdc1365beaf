//! Charts drawn by the server as SVG (no charting script in the browser).

use crate::highlight::escape;

/// A horizontal bar chart: one labelled bar per row, the value printed after it.
pub fn bars(title: &str, rows: &[(String, f64)], format: fn(f64) -> String) -> String {
    let max = rows.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let label_w = 130.0;
    let bar_w = 360.0;
    let row_h = 24.0;
    let height = row_h * rows.len().max(1) as f64 + 28.0;
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 600 {height}\" \
         width=\"600\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <text x=\"0\" y=\"16\" class=\"ct\">{t}</text>",
        t = escape(title)
    );
    if rows.is_empty() {
        out.push_str("<text x=\"0\" y=\"44\" class=\"cl\">no data yet</text>");
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
