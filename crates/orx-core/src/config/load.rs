//! Loading orx.yaml: parse, interpolate, range-check, validate; every error names file:line:column.
#![allow(clippy::result_large_err)] // A config error is built at most once, at startup; boxing buys nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Config;

/// A configuration error with its location and, where one is obvious, the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (as given).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// What is wrong and what was expected.
    pub message: String,
    /// The source line with a caret under the column.
    pub snippet: Option<String>,
    /// What to do (about the file's content).
    pub hint: Option<String>,
    /// The file could not be read at all (missing, unreadable).
    pub unreadable: bool,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message)?,
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message)?,
            _ => write!(f, "{}: {}", self.file, self.message)?,
        }
        if let Some(s) = &self.snippet {
            write!(f, "\n{s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A loaded configuration with where it came from and the secret values it holds.
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    /// The validated config.
    pub config: Config,
    /// The file, or None for built-in defaults.
    pub path: Option<PathBuf>,
    /// Secret values (api keys, values of *KEY*/*TOKEN*/*SECRET* variables), for redaction.
    pub secrets: Vec<String>,
}

/// Loads `path`; a missing file is an error (callers decide whether defaults apply).
pub fn load_file(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = crate::fsutil::read_text_capped(path, crate::fsutil::MAX_INPUT_FILE).map_err(|e| {
        let too_large = e.kind() == std::io::ErrorKind::FileTooLarge;
        ConfigError {
            file: path.display().to_string(),
            line: None,
            column: None,
            message: if too_large {
                format!("the config file is {e}")
            } else {
                format!("cannot read the config file: {e}")
            },
            snippet: None,
            hint: too_large.then(|| {
                "orx.yaml holds settings only; remove what does not belong there (a pasted log or data file?)".into()
            }),
            unreadable: !too_large,
        }
    })?;
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let mut loaded = load_str(&text, &path.display().to_string(), env)?;
    loaded.path = Some(path.to_path_buf());
    Ok(loaded)
}

/// Parses `text` (named `file` in messages) with `env` as the interpolation environment.
pub fn load_str(
    text: &str,
    file: &str,
    env: BTreeMap<String, String>,
) -> Result<LoadedConfig, ConfigError> {
    let (parsed, mut secrets) = super::interp::with_env(env, || {
        let mut opts = serde_saphyr::Options::default();
        opts.with_snippet = false;
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_saphyr::from_str_with_options::<Option<Config>>(text, opts)
            .map(Option::unwrap_or_default)
    });
    let config = parsed.map_err(|e| from_yaml_error(&e, text, file))?;
    validate(&config, text, file)?;
    for kind in super::ExecutorKind::ALL {
        if let Some(key) = config.executors.get(kind).and_then(|e| e.api_key.as_ref()) {
            secrets.push(key.to_string());
        }
    }
    Ok(LoadedConfig {
        config,
        path: None,
        secrets,
    })
}

fn from_yaml_error(e: &serde_saphyr::Error, text: &str, file: &str) -> ConfigError {
    use serde_saphyr::Error as E;
    let loc = e.location();
    let (line, column) = match loc {
        Some(l) if l.line() > 0 => (Some(l.line()), Some(l.column())),
        _ => (None, None),
    };
    let (message, hint) = match e {
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let mut msg = format!("unknown key `{field}`");
            if let Some(near) = nearest(field, expected) {
                msg.push_str(&format!("; did you mean `{near}`?"));
            }
            (
                msg,
                Some(format!("known keys here: {}", expected.join(", "))),
            )
        }
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let mut msg = format!("unknown value `{variant}`");
            if let Some(near) = nearest(variant, expected) {
                msg.push_str(&format!("; did you mean `{near}`?"));
            }
            (
                msg,
                Some(format!("expected one of: {}", expected.join(", "))),
            )
        }
        E::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => (
            format!("expected {}, found {unexpected}", describe(expected)),
            None,
        ),
        E::SerdeMissingField { field, .. } => (
            format!("missing required key `{field}`"),
            Some(format!("add `{field}:` here")),
        ),
        E::DuplicateMappingKey { .. } => (
            duplicate_key(&strip_location(&e.to_string())),
            Some("each key may appear once in a mapping; remove or merge the duplicate".into()),
        ),
        other => {
            let raw = strip_location(&other.to_string());
            let hint = line.and_then(|l| indentation_hint(&raw, text, l));
            (describe(&raw), hint)
        }
    };
    ConfigError {
        file: file.to_string(),
        line,
        column,
        message,
        snippet: line.map(|l| snippet(text, l, column.unwrap_or(1))),
        hint,
        unreadable: false,
    }
}

/// The likely cause of a YAML structure error at `line`: a tab, or an indentation that matches
/// neither the mapping it follows nor a new one.
fn indentation_hint(message: &str, text: &str, line: u64) -> Option<String> {
    if message.contains("tab") {
        return Some("indent with spaces, not tabs".into());
    }
    let structural = [
        "did not find expected key",
        "did not find expected '-'",
        "mapping values are not allowed",
    ]
    .iter()
    .any(|m| message.contains(m));
    if !structural {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
    // Where a line's key starts: after its indentation and, for a list item, after "- ".
    let indent = |l: &str| {
        let spaces = l.len() - l.trim_start().len();
        if l.trim_start().starts_with("- ") {
            spaces + 2
        } else {
            spaces
        }
    };
    let above = lines[..usize::try_from(line).ok()? - 1]
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))?;
    if indent(here) == indent(above) {
        return None;
    }
    Some(format!(
        "line {line} starts in column {}, the line above in column {}: keys of one mapping \
         (and items of one list) start in the same column",
        indent(here) + 1,
        indent(above) + 1
    ))
}

/// Removes serde-saphyr's " at line N, column M" suffix (we print the location ourselves).
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn duplicate_key(msg: &str) -> String {
    let key = msg
        .strip_prefix("duplicate mapping key: ")
        .and_then(|r| r.split(", set DuplicateKeyPolicy").next())
        .unwrap_or(msg);
    format!("duplicate key `{key}`")
}

/// Rewrites serde's type names into words a user knows.
fn describe(expected: &str) -> String {
    let words = [
        ("invalid u64", "expected a whole number (0 or more)"),
        ("u64", "a whole number"),
        ("a boolean", "true or false"),
        ("invalid boolean", "expected true or false"),
        ("struct ", "a mapping of "),
        ("a sequence", "a list"),
        ("sequence", "a list"),
        ("f64", "a number"),
        ("invalid f64", "expected a number"),
        (
            "expected sequence start",
            "expected a list (lines starting with `- `, or [a, b])",
        ),
        (
            "expected mapping start",
            "expected a mapping (`key: value` lines)",
        ),
    ];
    if let Some((_, w)) = words.iter().find(|(k, _)| *k == expected) {
        return w.to_string();
    }
    let mut out = expected.to_string();
    for (k, w) in words {
        if k.ends_with(' ') && out.starts_with(k) {
            out = format!("{w}{}", &out[k.len()..]);
        }
    }
    out
}

/// The source line `line` with a caret under `column`, rustc-style.
pub(crate) fn snippet(text: &str, line: u64, column: u64) -> String {
    let src = text
        .lines()
        .nth(line.saturating_sub(1) as usize)
        .unwrap_or("");
    let num = line.to_string();
    let pad = " ".repeat(num.len());
    let caret = " ".repeat(column.saturating_sub(1) as usize);
    format!("{pad} |\n{num} | {src}\n{pad} | {caret}^")
}

/// The candidate closest to `word` by edit distance, when close enough to be a typo.
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) || (c.len() >= 3 && word.starts_with(*c)))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A problem found by a check that spans several keys: the text to find in the source for the
/// location, the message and an optional hint.
struct Problem {
    needle: String,
    message: String,
    hint: Option<String>,
}

fn problem(needle: &str, message: String, hint: Option<&str>) -> Option<Problem> {
    Some(Problem {
        needle: needle.to_string(),
        message,
        hint: hint.map(str::to_string),
    })
}

/// Checks that span several keys; the location is found by searching the source.
fn validate(c: &Config, text: &str, file: &str) -> Result<(), ConfigError> {
    let found = check_version(c)
        .or_else(|| check_approvals(c))
        .or_else(|| check_gates(c))
        .or_else(|| check_guardrails(c))
        .or_else(|| check_knowledge(c))
        .or_else(|| check_fallback(c))
        .or_else(|| check_numbers(c));
    let Some(p) = found else {
        return Ok(());
    };
    let (line, column) = locate(text, &p.needle);
    Err(ConfigError {
        file: file.to_string(),
        line,
        column,
        snippet: line.map(|l| snippet(text, l, column.unwrap_or(1))),
        message: p.message,
        hint: p.hint,
        unreadable: false,
    })
}

/// `version`: this orx reads the 1.x format; another major version is a file for another orx.
fn check_version(c: &Config) -> Option<Problem> {
    let v = c.version.as_ref()?.trim().to_string();
    let major = v.split('.').next().unwrap_or("");
    if major == "1" {
        return None;
    }
    problem(
        "version:",
        format!("version `{v}` is not a format this orx reads (it reads 1.x)"),
        Some("write version: \"1.0\", or leave the key out"),
    )
}

/// `approvals` names stages a pipeline can have.
fn check_approvals(c: &Config) -> Option<Problem> {
    let known = crate::pipeline::KNOWN_STAGES;
    let bad = c.approvals.iter().find(|s| !known.contains(&s.as_str()))?;
    let near = nearest(bad, &known)
        .map(|n| format!("; did you mean `{n}`?"))
        .unwrap_or_default();
    problem(
        bad,
        format!("`{bad}` in approvals is not a stage{near}"),
        Some(
            "approvals lists stages: plan, spec, decompose, implement, review, ship, knowledge_update",
        ),
    )
}

fn check_gates(c: &Config) -> Option<Problem> {
    let mut seen = std::collections::BTreeSet::new();
    for g in &c.gates {
        let name = &g.name;
        if name.trim().is_empty() {
            return problem("name:", "a gate has an empty name".into(), None);
        }
        if !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        {
            return problem(
                name,
                format!("gate name `{name}` may only use letters, digits, `-`, `_` and `.`"),
                Some("the name is used in log file names"),
            );
        }
        if !seen.insert(name.as_str()) {
            return problem(
                &format!("name: {name}"),
                format!("two gates are named `{name}`"),
                Some("give each gate a unique name"),
            );
        }
        if g.command.trim().is_empty() {
            return problem(
                &format!("name: {name}"),
                format!("gate `{name}` has an empty command"),
                None,
            );
        }
    }
    None
}

fn check_guardrails(c: &Config) -> Option<Problem> {
    let patterns = c
        .guardrails
        .forbidden_patterns
        .iter()
        .chain(&c.guardrails.allowed_patterns);
    for p in patterns {
        if let Err(e) = globset::Glob::new(p) {
            return problem(
                p,
                format!("invalid guardrail pattern `{p}`: {}", e.kind()),
                None,
            );
        }
    }
    if c.guardrails.mode == super::GuardrailMode::Allowlist
        && c.guardrails.allowed_patterns.is_empty()
    {
        return problem(
            "allowlist",
            "guardrails.mode is allowlist but allowed_patterns is empty: nothing could change"
                .into(),
            Some("list the paths agents may change under guardrails.allowed_patterns"),
        );
    }
    None
}

fn check_knowledge(c: &Config) -> Option<Problem> {
    for f in &c.knowledge.files {
        let p = std::path::Path::new(f);
        if f.is_empty()
            || p.is_absolute()
            || p.components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return problem(
                f,
                format!("knowledge file `{f}` must be a path inside the repository"),
                Some("use a relative path such as AGENTS.md or docs/ARCHITECTURE.md"),
            );
        }
    }
    None
}

fn check_fallback(c: &Config) -> Option<Problem> {
    const KINDS: [&str; 8] = [
        "rate_limited",
        "overloaded",
        "network",
        "auth",
        "model_not_found",
        "bad_request",
        "timeout",
        "crash",
    ];
    for r in &c.fallback.rules {
        if !KINDS.contains(&r.error.as_str()) {
            let near = nearest(&r.error, &KINDS)
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            return problem(
                &r.error,
                format!("unknown error kind `{}` in fallback.rules{near}", r.error),
                Some(&format!("kinds: {}", KINDS.join(", "))),
            );
        }
        if r.model.is_none() && r.switch_to.is_none() {
            return problem(
                &r.error,
                "a fallback rule needs `model`, `switch_to` or both".into(),
                None,
            );
        }
    }
    None
}

fn check_numbers(c: &Config) -> Option<Problem> {
    if !(c.run.retry.initial_delay >= 0.0 && c.run.retry.initial_delay <= 600.0) {
        return problem(
            "initial_delay",
            "run.retry.initial_delay must be between 0 and 600 seconds".into(),
            None,
        );
    }
    for (model, p) in &c.pricing {
        if p.input < 0.0 || p.output < 0.0 || p.cached_input.is_some_and(|x| x < 0.0) {
            return problem(model, format!("pricing for `{model}` is negative"), None);
        }
    }
    None
}

fn locate(text: &str, needle: &str) -> (Option<u64>, Option<u64>) {
    for (i, line) in text.lines().enumerate() {
        if let Some(col) = line.find(needle) {
            return (
                Some(i as u64 + 1),
                Some(line[..col].chars().count() as u64 + 1),
            );
        }
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos() {
        assert_eq!(nearest("timout", &["timeout", "model"]), Some("timeout"));
        assert_eq!(nearest("zzzzzz", &["timeout", "model"]), None);
    }
}
