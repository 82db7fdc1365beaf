//! The marker-bounded knowledge files: only the text between `<!-- ORX:START NAME -->` and
//! `<!-- ORX:END NAME -->` may change.

/// The marker name for a knowledge file: AGENTS.md → AGENTS, ARCHITECTURE.md → ARCH.
pub fn marker_name(file: &str) -> String {
    let stem = std::path::Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(file)
        .to_ascii_uppercase();
    if stem == "ARCHITECTURE" {
        "ARCH".into()
    } else {
        stem
    }
}

fn start_marker(name: &str) -> String {
    format!("<!-- ORX:START {name} -->")
}

fn end_marker(name: &str) -> String {
    format!("<!-- ORX:END {name} -->")
}

/// Splits `text` into (before, inner, after) around the first marker block of any name.
pub fn split_block(text: &str) -> Option<(&str, &str, &str)> {
    let s = text.find("<!-- ORX:START ")?;
    let s_end = s + text[s..].find("-->")? + 3;
    let e = s_end + text[s_end..].find("<!-- ORX:END ")?;
    Some((&text[..s_end], &text[s_end..e], &text[e..]))
}

/// `text` with its marker block's inner text replaced by `inner`.
pub fn replace_block(text: &str, inner: &str) -> Option<String> {
    let (before, _, after) = split_block(text)?;
    let mut inner = inner.trim_matches('\n').to_string();
    inner.insert(0, '\n');
    inner.push('\n');
    Some(format!("{before}{inner}{after}"))
}

/// `text` with an empty marker block appended when it has none (a title for a new file).
pub fn ensure_markers(text: &str, file: &str) -> String {
    if split_block(text).is_some() {
        return text.to_string();
    }
    let name = marker_name(file);
    let mut out = if text.is_empty() {
        format!("# {file}\n")
    } else {
        text.to_string()
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "\n{}\n{}\n",
        start_marker(&name),
        end_marker(&name)
    ));
    out
}

/// Why a knowledge edit is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The file had no marker block to edit.
    #[error("the file had no ORX marker block")]
    NoBlock,
    /// The markers are gone or damaged.
    #[error("the ORX markers were removed or damaged")]
    MarkersDamaged,
    /// Text outside the markers changed.
    #[error("text outside the ORX markers was changed")]
    OutsideChanged,
    /// More lines changed than allowed.
    #[error("{changed} lines changed inside the markers, more than the limit of {max}")]
    TooManyLines {
        /// Lines changed.
        changed: u64,
        /// The limit.
        max: u64,
    },
}

/// Checks an agent's edit: the text outside the block is unchanged and at most `max` lines
/// changed inside. Returns the number of changed lines.
pub fn check_edit(before: &str, after: &str, max: u64) -> Result<u64, EditError> {
    let (b0, bi, b2) = split_block(before).ok_or(EditError::NoBlock)?;
    let Some((a0, ai, a2)) = split_block(after) else {
        return Err(EditError::MarkersDamaged);
    };
    if b0 != a0 || b2 != a2 {
        return Err(EditError::OutsideChanged);
    }
    let changed = changed_lines(bi, ai);
    if changed > max {
        return Err(EditError::TooManyLines { changed, max });
    }
    Ok(changed)
}

/// Lines removed plus lines added between `a` and `b` (as multisets of lines).
pub fn changed_lines(a: &str, b: &str) -> u64 {
    let mut counts = std::collections::HashMap::<&str, i64>::new();
    for l in a.lines() {
        *counts.entry(l).or_default() += 1;
    }
    for l in b.lines() {
        *counts.entry(l).or_default() -= 1;
    }
    counts.values().map(|v| v.unsigned_abs()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_checks() {
        let base = ensure_markers("# Title\nkeep me\n", "AGENTS.md");
        assert!(base.contains("<!-- ORX:START AGENTS -->\n<!-- ORX:END AGENTS -->"));
        let edited = replace_block(&base, "- learned a thing").unwrap();
        assert_eq!(check_edit(&base, &edited, 10), Ok(1));
        let outside = edited.replace("keep me", "changed");
        assert_eq!(
            check_edit(&base, &outside, 10),
            Err(EditError::OutsideChanged)
        );
        let big = replace_block(&base, &"x\n".repeat(20)).unwrap();
        assert!(check_edit(&base, &big, 5).is_err());
        assert_eq!(marker_name("docs/ARCHITECTURE.md"), "ARCH");
    }
}
