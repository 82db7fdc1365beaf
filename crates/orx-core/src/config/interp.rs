//! `${VAR}`, `${VAR:-default}` and `${VAR:?message}` interpolation, applied to every string value
//! while it is deserialised, so an error carries the value's line and column and an environment
//! value can never inject YAML.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

thread_local! {
    static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

struct Scope {
    env: BTreeMap<String, String>,
    secrets: Vec<String>,
}

/// Runs `f` with `env` as the interpolation environment and returns the secret values met.
pub(crate) fn with_env<T>(
    env: BTreeMap<String, String>,
    f: impl FnOnce() -> T,
) -> (T, Vec<String>) {
    SCOPE.with(|s| {
        *s.borrow_mut() = Some(Scope {
            env,
            secrets: Vec::new(),
        })
    });
    let out = f();
    let secrets = SCOPE
        .with(|s| s.borrow_mut().take())
        .map(|s| s.secrets)
        .unwrap_or_default();
    (out, secrets)
}

fn lookup(name: &str) -> Option<String> {
    SCOPE
        .with(|s| match s.borrow().as_ref() {
            Some(scope) => scope.env.get(name).cloned(),
            None => std::env::var(name).ok(),
        })
        .filter(|v| !v.is_empty())
}

fn note_secret(name: &str, value: &str) {
    if crate::redact::is_secret_name(name) && !value.is_empty() {
        SCOPE.with(|s| {
            if let Some(scope) = s.borrow_mut().as_mut() {
                scope.secrets.push(value.to_string());
            }
        });
    }
}

/// Why a `${…}` reference cannot be expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InterpError {
    /// `${` without its `}`.
    #[error("unclosed `${{` in \"{0}\"; write `$${{` for a literal")]
    Unclosed(String),
    /// Not a variable name.
    #[error("`${{{0}}}` is not a valid variable reference (use ${{NAME}})")]
    BadReference(String),
    /// `${NAME:?message}` with NAME unset.
    #[error("environment variable {name} is required{}", .message.as_ref().map(|m| format!(": {m}")).unwrap_or_else(|| " but not set".into()))]
    Required {
        /// The variable.
        name: String,
        /// The file's message.
        message: Option<String>,
    },
    /// An operator other than `:-` and `:?`.
    #[error("`${{{0}}}`: unknown operator (use :- for a default or :? for an error)")]
    UnknownOperator(String),
}

/// Expands every `${…}` in `input`. `$$` is a literal `$`.
pub fn interpolate(input: &str) -> Result<String, InterpError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body.find('}') else {
            return Err(InterpError::Unclosed(input.to_string()));
        };
        let expr = &body[..end];
        out.push_str(&expand(expr)?);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn expand(expr: &str) -> Result<String, InterpError> {
    let (name, op) = match expr.find([':', '-', '?']) {
        Some(i) => (&expr[..i], Some(&expr[i..])),
        None => (expr, None),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(InterpError::BadReference(expr.to_string()));
    }
    let value = lookup(name);
    if let Some(v) = &value {
        note_secret(name, v);
    }
    match op {
        None => Ok(value.unwrap_or_default()),
        Some(op) => {
            if let Some(default) = op.strip_prefix(":-").or_else(|| op.strip_prefix('-')) {
                Ok(value.unwrap_or_else(|| default.to_string()))
            } else if let Some(msg) = op.strip_prefix(":?").or_else(|| op.strip_prefix('?')) {
                value.ok_or_else(|| InterpError::Required {
                    name: name.to_string(),
                    message: Some(msg.to_string()).filter(|m| !m.is_empty()),
                })
            } else {
                Err(InterpError::UnknownOperator(expr.to_string()))
            }
        }
    }
}

/// A string value from orx.yaml, with environment variables already expanded.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IString(pub String);

impl IString {
    /// The expanded text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for IString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for IString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for IString {
    fn from(s: &str) -> Self {
        IString(s.to_string())
    }
}

impl<'de> Deserialize<'de> for IString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        interpolate(&raw)
            .map(IString)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for IString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> Result<String, String> {
        let env = BTreeMap::from([("SET".to_string(), "v".to_string())]);
        with_env(env, || interpolate(input))
            .0
            .map_err(|e| e.to_string())
    }

    #[test]
    fn forms() {
        assert_eq!(run("a${SET}b").as_deref(), Ok("avb"));
        assert_eq!(run("${UNSET}").as_deref(), Ok(""));
        assert_eq!(run("${UNSET:-dflt}").as_deref(), Ok("dflt"));
        assert_eq!(run("${SET:-dflt}").as_deref(), Ok("v"));
        assert_eq!(run("$$HOME").as_deref(), Ok("$HOME"));
        assert_eq!(run("cost $5").as_deref(), Ok("cost $5"));
        let err = run("${UNSET:?set it in .env}").unwrap_err();
        assert!(err.contains("UNSET is required: set it in .env"), "{err}");
        assert!(run("${oops").is_err());
        assert!(run("${A B}").is_err());
    }
}
