//! Just enough TOML reading for manifests: a section's `key = value` lines and string arrays.
//! Anything unusual is skipped, never an error: the context is a hint, not a contract.

/// The raw value of `key` in `[section]` (`""` is the top level), arrays joined across lines.
pub fn value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if t.starts_with('[') && !t.starts_with("[[") {
            current = t.trim_matches(['[', ']']).trim().to_string();
            continue;
        }
        if current != section {
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            continue;
        };
        if k.trim().trim_matches('"') != key {
            continue;
        }
        let mut v = v.trim().to_string();
        if v.starts_with('[') && !balanced(&v) {
            for more in lines.by_ref() {
                v.push(' ');
                v.push_str(more.trim());
                if balanced(&v) {
                    break;
                }
            }
        }
        return Some(v);
    }
    None
}

fn balanced(v: &str) -> bool {
    v.matches('[').count() <= v.matches(']').count()
}

/// The strings of an array value (`["a", "b"]`), or the single string.
pub fn strings(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(start) = rest.find(['"', '\'']) {
        let quote = &rest[start..=start];
        let after = &rest[start + 1..];
        let Some(end) = after.find(quote) else { break };
        out.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    out
}

/// True when `[section]` (or a `[section.sub]`) exists.
pub fn has_section(text: &str, section: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim();
        t == format!("[{section}]") || t.starts_with(&format!("[{section}."))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_and_arrays() {
        let t = "name = \"top\"\n[workspace]\nmembers = [\n  \"crates/a\",\n  \"crates/b\",\n]\n[package]\nname = \"x\"\n";
        assert_eq!(
            strings(&value(t, "workspace", "members").unwrap()),
            ["crates/a", "crates/b"]
        );
        assert_eq!(strings(&value(t, "package", "name").unwrap()), ["x"]);
        assert_eq!(strings(&value(t, "", "name").unwrap()), ["top"]);
        assert!(value(t, "package", "edition").is_none());
        assert!(has_section("[tool.ruff.lint]\n", "tool.ruff"));
    }
}
