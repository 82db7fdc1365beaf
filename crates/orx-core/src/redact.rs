//! Secret redaction: known secret values never reach a file, a log or a page written for people.
//!
//! A secret is known by its value: an api key from orx.yaml, a value interpolated from a
//! variable named like a secret, or such a variable of the environment agents receive. Each value
//! is matched in every form it takes on the way out: raw, escaped inside a JSON string (once, or
//! twice for JSON carried in JSON, as agents' tool calls are), quoted for a shell, or
//! percent-encoded in a URL. Apart from values, only unmistakable key shapes are masked: a
//! well-known prefix followed by a long random-looking body, never ordinary words.

use std::borrow::Cow;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// The shortest value treated as a secret: shorter ones would blank out ordinary text.
const MIN_SECRET_LEN: usize = 4;

/// Replaces every known secret value (in each of its forms) and unmistakable API-key shapes with
/// `***`.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// The values, as given (for [`Redactor::secrets`]).
    secrets: Vec<String>,
    /// Every form of every value, searched in one pass.
    finder: Option<Arc<AhoCorasick>>,
}

impl Redactor {
    /// A redactor for the given secret values (values too short or plainly not secret, such as
    /// `true`, are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut r = Self::default();
        r.add(secrets);
        r
    }

    /// The same, also knowing the values of the environment's variables named like secrets.
    pub fn with_env(mut self) -> Self {
        let found: Vec<String> = std::env::vars()
            .filter(|(k, _)| is_secret_name(k))
            .map(|(_, v)| v)
            .collect();
        self.add(found);
        self
    }

    fn add(&mut self, secrets: impl IntoIterator<Item = String>) {
        self.secrets
            .extend(secrets.into_iter().filter(|s| is_secret_value(s)));
        self.secrets.sort();
        self.secrets.dedup();
        let mut needles: Vec<String> = self.secrets.iter().flat_map(|s| forms(s)).collect();
        needles.sort();
        needles.dedup();
        self.finder = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&needles)
            .ok()
            .filter(|_| !needles.is_empty())
            .map(Arc::new);
    }

    /// The secret values this redactor masks.
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// The text with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        self.redact_cow(text).into_owned()
    }

    /// [`Redactor::redact`] without a copy when there is nothing to mask (the common case, on
    /// every line of every log).
    pub fn redact_cow<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let out = match &self.finder {
            Some(f) if f.is_match(text) => {
                Cow::Owned(f.replace_all(text, &vec![MASK; f.patterns_len()]))
            }
            _ => Cow::Borrowed(text),
        };
        match redact_key_shapes(&out) {
            Cow::Borrowed(_) => out,
            Cow::Owned(o) => Cow::Owned(o),
        }
    }

    /// Every string inside `value` redacted (keys included), so JSON written for people holds
    /// no secret whatever its structure.
    pub fn redact_json(&self, value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.redact(&s)),
            Value::Array(a) => Value::Array(a.into_iter().map(|v| self.redact_json(v)).collect()),
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .map(|(k, v)| (self.redact(&k), self.redact_json(v)))
                    .collect(),
            ),
            other => other,
        }
    }
}

/// The forms a secret value takes in text orx writes: raw, JSON-escaped (once and twice),
/// shell-quoted (single and double quotes), percent-encoded.
fn forms(secret: &str) -> Vec<String> {
    let json = |s: &str| {
        let q = serde_json::to_string(s).unwrap_or_default();
        q.get(1..q.len().saturating_sub(1))
            .unwrap_or("")
            .to_string()
    };
    let once = json(secret);
    let twice = json(&once);
    let single = secret.replace('\'', r"'\''");
    let mut double = String::with_capacity(secret.len());
    for c in secret.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            double.push('\\');
        }
        double.push(c);
    }
    let mut url = String::with_capacity(secret.len());
    for b in secret.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    vec![secret.to_string(), once, twice, single, double, url]
}

/// True for a value worth hiding: long enough, and not a switch or an empty placeholder.
fn is_secret_value(v: &str) -> bool {
    let t = v.trim();
    t.len() >= MIN_SECRET_LEN
        && !matches!(
            t.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "none" | "unset" | "empty"
        )
}

/// True for variable names that hold secrets: one of their words (split at `_`, `-`, `.`) is KEY,
/// APIKEY, TOKEN, SECRET, PASSWORD, PASSWD, PASSPHRASE, CREDENTIAL(S) or PAT. A name for where a
/// secret is kept (`…_FILE`, `…_PATH`, `…_DIR`) is not one, and neither is `TOKENIZERS_…`.
pub fn is_secret_name(name: &str) -> bool {
    const WORDS: [&str; 10] = [
        "KEY",
        "APIKEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "CREDENTIAL",
        "CREDENTIALS",
        "PAT",
    ];
    let up = name.to_ascii_uppercase();
    let words: Vec<&str> = up
        .split(['_', '-', '.'])
        .filter(|w| !w.is_empty())
        .collect();
    if matches!(words.last(), Some(&("FILE" | "PATH" | "DIR"))) {
        return false;
    }
    words.iter().any(|w| WORDS.contains(w))
}

/// Masks strings shaped like well-known API keys (`sk-…`, `ghp_…`, `AIza…`): the prefix, then a
/// long body that looks random (letters of both cases and digits), so `sk-learn-compatible`
/// stays.
fn redact_key_shapes(text: &str) -> Cow<'_, str> {
    const PREFIXES: [&str; 7] = [
        "sk-ant-",
        "sk-proj-",
        "sk-",
        "ghp_",
        "gho_",
        "github_pat_",
        "AIza",
    ];
    if !PREFIXES.iter().any(|p| text.contains(p)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for p in PREFIXES {
            if rest.starts_with(p) && at_word_start(text, rest) {
                let body: &str = {
                    let n: usize = rest[p.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .map(char::len_utf8)
                        .sum();
                    &rest[p.len()..p.len() + n]
                };
                if looks_random(body) {
                    out.push_str(MASK);
                    rest = &rest[p.len() + body.len()..];
                    continue 'outer;
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

/// A key's body: at least 20 characters with upper- and lower-case letters and digits.
fn looks_random(body: &str) -> bool {
    body.len() >= 20
        && body.chars().any(|c| c.is_ascii_uppercase())
        && body.chars().any(|c| c.is_ascii_lowercase())
        && body.chars().any(|c| c.is_ascii_digit())
}

fn at_word_start(whole: &str, rest: &str) -> bool {
    let idx = whole.len() - rest.len();
    idx == 0
        || whole[..idx]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_known_values_and_key_shapes() {
        let r = Redactor::new(["hunter2-secret".to_string()]);
        let out = r.redact("pw=hunter2-secret key=sk-proj-AbCdEfGh0123456789XyZw task-list");
        assert_eq!(out, "pw=*** key=*** task-list");
    }

    #[test]
    fn ordinary_words_after_a_key_prefix_stay() {
        let r = Redactor::default();
        for text in [
            "Port the sk-learn-compatible-estimators wrapper",
            "sk-abcdefghijklmnopqrstuv",
            "AIzaleaLongButAllLowercaseWordsHere",
        ] {
            assert_eq!(r.redact(text), text);
        }
    }

    #[test]
    fn short_plain_and_quoted_secrets_are_masked_in_every_form() {
        // Short, all letters, with a quote and a backslash.
        let secret = r#"pa"ss\wrd"#.to_string();
        let r = Redactor::new([secret.clone(), "hunter".to_string(), "abc".to_string()]);
        let json = serde_json::json!({ "text": format!("use {secret} now") }).to_string();
        assert!(json.contains(r#"pa\"ss\\wrd"#), "{json}");
        assert_eq!(r.redact(&json), r#"{"text":"use *** now"}"#);
        let twice = serde_json::json!({ "args": json }).to_string();
        assert!(!r.redact(&twice).contains("ss"), "{}", r.redact(&twice));
        assert_eq!(r.redact(r#"echo "pa\"ss\\wrd""#), r#"echo "***""#);
        assert_eq!(r.redact("login hunter; hunter2"), "login ***; ***2");
        assert_eq!(
            r.redact("url=https://u:pa%22ss%5Cwrd@h"),
            "url=https://u:***@h"
        );
        // Three letters would blank out ordinary text: not a secret.
        assert_eq!(r.redact("abc"), "abc");
    }

    #[test]
    fn json_values_are_redacted_inside_and_stay_json() {
        let r = Redactor::new(["s3cr3t-value".to_string()]);
        let v = serde_json::json!({"title": "uses s3cr3t-value", "n": 3, "list": ["s3cr3t-value"]});
        assert_eq!(
            r.redact_json(v),
            serde_json::json!({"title": "uses ***", "n": 3, "list": ["***"]})
        );
    }

    #[test]
    fn secret_names() {
        for name in [
            "OPENAI_API_KEY",
            "gh_token",
            "DB_PASSWORD",
            "AWS_SECRET_ACCESS_KEY",
            "GITHUB_PAT",
            "MY_APIKEY",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "HOME",
            "TOKENIZERS_PARALLELISM",
            "MAX_TOKENS",
            "KEYBOARD_LAYOUT",
            "PWD",
            "PATH",
            "SSH_AUTH_SOCK",
            "GOOGLE_APPLICATION_CREDENTIALS_FILE",
            "API_KEY_PATH",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
        assert!(!is_secret_value("false") && !is_secret_value("abc"));
        assert!(is_secret_value("hunter") && is_secret_value("12345678"));
    }
}
