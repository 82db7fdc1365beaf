//! Secret redaction: API keys and values of variables named like secrets never reach disk.

/// Replaces every known secret value (and common API-key shapes) with `***`.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for the given secret values (empty values and very short ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// A redactor that also knows the secrets found in the process environment.
    pub fn with_env(mut self) -> Self {
        for (k, v) in std::env::vars() {
            if is_secret_name(&k) && looks_like_secret(&v) {
                self.secrets.push(v);
            }
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.secrets.dedup();
        self
    }

    /// The text with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        redact_key_shapes(&out)
    }
}

/// Values of the environment worth hiding: long enough and not a plain word or number, so a
/// variable like `TOKENIZERS_PARALLELISM=false` does not blank out the word "false" everywhere.
fn looks_like_secret(v: &str) -> bool {
    v.len() >= 12
        && !v.chars().all(|c| c.is_ascii_alphabetic())
        && !v.chars().all(|c| c.is_ascii_digit())
}

/// True for variable names that hold secrets (KEY, TOKEN, SECRET, PASSWORD).
pub fn is_secret_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD"]
        .iter()
        .any(|w| up.contains(w))
}

/// Masks strings shaped like well-known API keys (`sk-…`, `ghp_…`, `AIza…`).
fn redact_key_shapes(text: &str) -> String {
    const PREFIXES: [&str; 6] = ["sk-ant-", "sk-", "ghp_", "gho_", "github_pat_", "AIza"];
    if !PREFIXES.iter().any(|p| text.contains(p)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for p in PREFIXES {
            if rest.starts_with(p) && at_word_start(text, rest) {
                let body: usize = rest[p.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .map(char::len_utf8)
                    .sum();
                if body >= 16 {
                    out.push_str("***");
                    rest = &rest[p.len() + body..];
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
    out
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
        let out = r.redact("pw=hunter2-secret key=sk-abcdefghijklmnopqrstuv task-list");
        assert_eq!(out, "pw=*** key=*** task-list");
    }

    #[test]
    fn environment_values_that_are_plain_words_are_not_secrets() {
        assert!(!looks_like_secret("false"));
        assert!(!looks_like_secret("1234567890123"));
        assert!(looks_like_secret("sk-live-0123456789abcdef"));
    }

    #[test]
    fn secret_names() {
        assert!(is_secret_name("OPENAI_API_KEY"));
        assert!(is_secret_name("gh_token"));
        assert!(!is_secret_name("HOME"));
    }
}
