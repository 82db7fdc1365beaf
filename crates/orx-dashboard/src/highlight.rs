//! Server-side syntax highlighting for the artifact preview: YAML, JSON/JSONL, Markdown, diffs
//! and plain text. Small hand-written lexers (the run folder holds only these kinds of files),
//! escaped first and then wrapped in `<span class=…>`: the output is safe to embed.

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The language of a file, from its name.
pub fn language(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("yaml" | "yml") => "yaml",
        Some("json" | "jsonl") => "json",
        Some("md" | "markdown") => "markdown",
        Some("diff" | "patch") => "diff",
        _ => "text",
    }
}

/// The whole file as highlighted lines, one `<span class="ln">` per line.
pub fn highlight(text: &str, lang: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut in_fence = false;
    for line in text.lines() {
        let body = match lang {
            "yaml" => yaml_line(line),
            "json" => json_line(line),
            "markdown" => markdown_line(line, &mut in_fence),
            "diff" => diff_line(line),
            _ => escape(line),
        };
        out.push_str("<span class=\"ln\">");
        out.push_str(&body);
        out.push_str("</span>\n");
    }
    out
}

/// A line of a file's diff: where it is in the old and the new file, and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DiffLine<'a> {
    /// A hunk's header (`@@ -a,b +c,d @@ …`).
    Hunk(&'a str),
    /// Unchanged: its old and new line numbers.
    Same(u64, u64, &'a str),
    /// Removed: its old line number.
    Old(u64, &'a str),
    /// Added: its new line number.
    New(u64, &'a str),
    /// A note (`\ No newline at end of file`, `Binary files … differ`).
    Note(&'a str),
}

/// The lines of one file's part of a unified diff, numbered; git's header lines (`diff --git`,
/// `index`, `---`, `+++`, modes, renames) are left out: the file's heading says what they say.
fn diff_lines(text: &str) -> Vec<DiffLine<'_>> {
    let (mut old, mut new) = (0u64, 0u64);
    let mut in_hunk = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("@@ ") {
            // `@@ -a,b +c,d @@`: the next lines start at old line a and new line c.
            let mut parts = h.split_whitespace();
            let start = |p: Option<&str>, sign: char| {
                p.and_then(|p| p.strip_prefix(sign))
                    .and_then(|p| p.split(',').next())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            old = start(parts.next(), '-');
            new = start(parts.next(), '+');
            in_hunk = true;
            out.push(DiffLine::Hunk(line));
        } else if line.starts_with("diff --git ") {
            in_hunk = false;
        } else if !in_hunk {
            if line.starts_with("Binary files ") {
                out.push(DiffLine::Note(line));
            }
        } else if let Some(t) = line.strip_prefix('+') {
            out.push(DiffLine::New(new, t));
            new += 1;
        } else if let Some(t) = line.strip_prefix('-') {
            out.push(DiffLine::Old(old, t));
            old += 1;
        } else if let Some(t) = line.strip_prefix(' ') {
            out.push(DiffLine::Same(old, new, t));
            old += 1;
            new += 1;
        } else {
            out.push(DiffLine::Note(line));
        }
    }
    out
}

/// One file's part of a unified diff as unified lines, each carrying its line number in the
/// new file (`data-new`, added and unchanged lines) or the old one (`data-old`, removed lines):
/// the Diff tab shows those numbers, and its comments name lines by them.
pub fn diff_numbered(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for l in diff_lines(text) {
        let (attr, body) = match l {
            DiffLine::Hunk(h) => (String::new(), span("dh", h)),
            DiffLine::Same(_, n, t) => (format!(" data-new=\"{n}\""), escape(&format!(" {t}"))),
            DiffLine::Old(o, t) => (format!(" data-old=\"{o}\""), span("dd", &format!("-{t}"))),
            DiffLine::New(n, t) => (format!(" data-new=\"{n}\""), span("da", &format!("+{t}"))),
            DiffLine::Note(t) => (String::new(), span("dm", t)),
        };
        out.push_str(&format!("<span class=\"ln\"{attr}>{body}</span>\n"));
    }
    out
}

/// One file's part of a unified diff side by side: a table row per line pair, the old file on
/// the left and the new on the right (removed and added lines paired in order).
pub fn diff_split(text: &str) -> String {
    let mut out = String::from(
        "<table class=\"sbs\"><colgroup><col class=\"n\"><col><col class=\"n\"><col></colgroup><tbody>\n",
    );
    let cell = |n: Option<u64>, class: &str, t: &str, side: &str| match n {
        Some(n) => format!(
            "<td class=\"num\">{n}</td><td class=\"{class}\"{}>{}</td>",
            if side == "new" {
                format!(" data-new=\"{n}\"")
            } else {
                String::new()
            },
            escape(t)
        ),
        None => "<td class=\"num\"></td><td class=\"empty\"></td>".to_string(),
    };
    let lines = diff_lines(text);
    let mut i = 0;
    while i < lines.len() {
        match lines[i] {
            DiffLine::Hunk(h) | DiffLine::Note(h) => {
                out.push_str(&format!(
                    "<tr><td colspan=\"4\" class=\"hunk\">{}</td></tr>\n",
                    escape(h)
                ));
                i += 1;
            }
            DiffLine::Same(o, n, t) => {
                out.push_str(&format!(
                    "<tr>{}{}</tr>\n",
                    cell(Some(o), "same", t, "old"),
                    cell(Some(n), "same", t, "new")
                ));
                i += 1;
            }
            DiffLine::Old(..) | DiffLine::New(..) => {
                // A run of removed lines and the added lines after it, paired.
                let mut olds = Vec::new();
                let mut news = Vec::new();
                while let Some(DiffLine::Old(o, t)) = lines.get(i) {
                    olds.push((*o, *t));
                    i += 1;
                }
                while let Some(DiffLine::New(n, t)) = lines.get(i) {
                    news.push((*n, *t));
                    i += 1;
                }
                for k in 0..olds.len().max(news.len()) {
                    let left = olds.get(k).map_or_else(
                        || cell(None, "", "", "old"),
                        |(o, t)| cell(Some(*o), "del-line", t, "old"),
                    );
                    let right = news.get(k).map_or_else(
                        || cell(None, "", "", "new"),
                        |(n, t)| cell(Some(*n), "add-line", t, "new"),
                    );
                    out.push_str(&format!("<tr>{left}{right}</tr>\n"));
                }
            }
        }
    }
    out.push_str("</tbody></table>");
    out
}

fn span(class: &str, text: &str) -> String {
    format!("<span class=\"{class}\">{}</span>", escape(text))
}

fn scalar(v: &str) -> String {
    let t = v.trim();
    if t.is_empty() {
        return escape(v);
    }
    let lead = &v[..v.len() - v.trim_start().len()];
    let trail = &v[v.trim_end().len()..];
    let class = if t.starts_with('"') || t.starts_with('\'') {
        "s"
    } else if matches!(t, "true" | "false" | "null" | "~") {
        "b"
    } else if t.parse::<f64>().is_ok() {
        "n"
    } else if t.starts_with('|') || t.starts_with('>') || t.starts_with('&') || t.starts_with('*') {
        "p"
    } else {
        "s"
    };
    format!("{}{}{}", escape(lead), span(class, t), escape(trail))
}

/// Where a `#` starts a comment (outside quotes, at the start or after a space).
fn comment_start(line: &str) -> Option<usize> {
    let mut quote = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if prev == ' ' || prev == '\t' || i == 0 => return Some(i),
            _ => {}
        }
        prev = c;
    }
    None
}

fn yaml_line(line: &str) -> String {
    let (code, comment) = match comment_start(line) {
        Some(i) => (&line[..i], Some(&line[i..])),
        None => (line, None),
    };
    let mut out = String::new();
    if code.trim() == "---" || code.trim() == "..." {
        out.push_str(&span("p", code));
    } else {
        let indent = code.len() - code.trim_start().len();
        out.push_str(&escape(&code[..indent]));
        let mut rest = &code[indent..];
        while let Some(r) = rest.strip_prefix("- ") {
            out.push_str(&span("p", "-"));
            out.push(' ');
            rest = r;
        }
        if rest == "-" {
            out.push_str(&span("p", "-"));
            rest = "";
        }
        match key_split(rest) {
            Some((key, value)) => {
                out.push_str(&span("k", key));
                out.push_str(&span("p", ":"));
                out.push_str(&scalar(value));
            }
            None => out.push_str(&scalar(rest)),
        }
    }
    if let Some(c) = comment {
        out.push_str(&span("c", c));
    }
    out
}

/// `key: value` → (`key`, ` value`), for a plain or quoted key.
fn key_split(s: &str) -> Option<(&str, &str)> {
    let end = if s.starts_with('"') || s.starts_with('\'') {
        let q = s.chars().next()?;
        s[1..].find(q)? + 2
    } else {
        s.find(':')?
    };
    let after = &s[end..];
    let value = after.strip_prefix(':')?;
    if !(value.is_empty() || value.starts_with(' ')) {
        return None;
    }
    let key = &s[..end];
    if key.is_empty() || key.contains(": ") {
        return None;
    }
    Some((key, value))
}

fn json_line(line: &str) -> String {
    let mut out = String::new();
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].1 != '"' {
                if chars[j].1 == '\\' {
                    j += 1;
                }
                j += 1;
            }
            let end = chars.get(j + 1).map(|(b, _)| *b).unwrap_or(line.len());
            let s = &line[start..end];
            let is_key = line[end..].trim_start().starts_with(':');
            out.push_str(&span(if is_key { "k" } else { "s" }, s));
            i = j + 1;
        } else if c == '-' || c.is_ascii_digit() {
            let mut j = i;
            while j < chars.len()
                && (chars[j].1.is_ascii_digit()
                    || matches!(chars[j].1, '-' | '+' | '.' | 'e' | 'E'))
            {
                j += 1;
            }
            let end = chars.get(j).map(|(b, _)| *b).unwrap_or(line.len());
            out.push_str(&span("n", &line[start..end]));
            i = j;
        } else if let Some(word) = ["true", "false", "null"]
            .iter()
            .find(|w| line[start..].starts_with(**w))
        {
            out.push_str(&span("b", word));
            i += word.len();
        } else if matches!(c, '{' | '}' | '[' | ']' | ':' | ',') {
            out.push_str(&span("p", &c.to_string()));
            i += 1;
        } else {
            out.push_str(&escape(&c.to_string()));
            i += 1;
        }
    }
    out
}

fn markdown_line(line: &str, in_fence: &mut bool) -> String {
    let t = line.trim_start();
    if t.starts_with("```") {
        *in_fence = !*in_fence;
        return span("c", line);
    }
    if *in_fence {
        return span("fc", line);
    }
    if t.starts_with('#') {
        return span("h", line);
    }
    if t.starts_with("- ") || t.starts_with("* ") {
        let indent = line.len() - t.len();
        return format!(
            "{}{}{}",
            escape(&line[..indent]),
            span("p", &t[..1]),
            escape(&t[1..])
        );
    }
    escape(line)
}

fn diff_line(line: &str) -> String {
    let class = if line.starts_with("+++") || line.starts_with("---") || line.starts_with("diff ") {
        "dm"
    } else if line.starts_with('+') {
        "da"
    } else if line.starts_with('-') {
        "dd"
    } else if line.starts_with("@@") {
        "dh"
    } else {
        return escape(line);
    };
    span(class, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diffs_lines_carry_their_numbers_in_the_new_and_the_old_file() {
        let diff = "diff --git a/f b/f\nindex 1..2 100644\n--- a/f\n+++ b/f\n@@ -3,3 +3,4 @@ fn x\n keep\n-gone\n+new one\n+new two\n keep <b>\n";
        let d = diff_numbered(diff);
        let lines: Vec<&str> = d.lines().collect();
        assert_eq!(
            lines,
            [
                r#"<span class="ln"><span class="dh">@@ -3,3 +3,4 @@ fn x</span></span>"#,
                r#"<span class="ln" data-new="3"> keep</span>"#,
                r#"<span class="ln" data-old="4"><span class="dd">-gone</span></span>"#,
                r#"<span class="ln" data-new="4"><span class="da">+new one</span></span>"#,
                r#"<span class="ln" data-new="5"><span class="da">+new two</span></span>"#,
                r#"<span class="ln" data-new="6"> keep &lt;b&gt;</span>"#,
            ],
            "git's header lines are left out"
        );
        // Side by side: the removed line beside the first added one, the second alone.
        let s = diff_split(diff);
        assert!(s.contains(r#"<tr><td class="num">4</td><td class="del-line">gone</td><td class="num">4</td><td class="add-line" data-new="4">new one</td></tr>"#), "{s}");
        assert!(s.contains(r#"<tr><td class="num"></td><td class="empty"></td><td class="num">5</td><td class="add-line" data-new="5">new two</td></tr>"#), "{s}");
        assert!(s.contains(r#"<td class="num">5</td><td class="same">keep &lt;b&gt;</td><td class="num">6</td><td class="same" data-new="6">keep &lt;b&gt;</td>"#), "{s}");
    }

    #[test]
    fn yaml_keys_values_and_comments_get_classes() {
        let h = highlight(
            "items:\n  - id: W001 # first\n    done: true\n    n: 3\n",
            "yaml",
        );
        assert!(h.contains(r#"<span class="k">items</span>"#), "{h}");
        assert!(
            h.contains(r#"<span class="p">-</span> <span class="k">id</span>"#),
            "{h}"
        );
        assert!(h.contains(r#"<span class="s">W001</span>"#), "{h}");
        assert!(h.contains(r#"<span class="c"># first</span>"#), "{h}");
        assert!(h.contains(r#"<span class="b">true</span>"#), "{h}");
        assert!(h.contains(r#"<span class="n">3</span>"#), "{h}");
    }

    #[test]
    fn everything_is_escaped() {
        for lang in ["yaml", "json", "markdown", "diff", "text"] {
            let h = highlight("k: <script>alert('x')</script>\n\"<b>\": 1\n", lang);
            assert!(!h.contains("<script>") && !h.contains("<b>"), "{lang}: {h}");
            assert!(h.contains("&lt;script&gt;"), "{lang}: {h}");
        }
    }

    #[test]
    fn json_and_diff() {
        let h = highlight(r#"{"a": [1, "x", null]}"#, "json");
        assert!(h.contains(r#"<span class="k">&quot;a&quot;</span>"#), "{h}");
        assert!(h.contains(r#"<span class="n">1</span>"#), "{h}");
        assert!(h.contains(r#"<span class="b">null</span>"#), "{h}");
        let d = highlight("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n same\n", "diff");
        assert!(d.contains(r#"<span class="da">+new</span>"#), "{d}");
        assert!(d.contains(r#"<span class="dd">-old</span>"#), "{d}");
        assert_eq!(language("artifacts/backlog.yaml"), "yaml");
        assert_eq!(language("logs/agent_plan.log"), "text");
    }
}
