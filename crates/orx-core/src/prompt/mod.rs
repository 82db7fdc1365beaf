//! Prompt templates (minijinja), compiled into the binary and overridable per repository in
//! `.orx/prompts/<stage>.md`.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

const BUILTIN: [(&str, &str); 9] = [
    ("plan", include_str!("templates/plan.md")),
    ("spec", include_str!("templates/spec.md")),
    ("decompose", include_str!("templates/decompose.md")),
    ("implement", include_str!("templates/implement.md")),
    ("fix", include_str!("templates/fix.md")),
    // A fix that continues the implement call's agent session: only the new evidence.
    ("fix_resumed", include_str!("templates/fix_resumed.md")),
    // A fix of a pull request's failed CI checks (stage `ci`).
    ("fix_ci", include_str!("templates/fix_ci.md")),
    ("review", include_str!("templates/review.md")),
    (
        "knowledge_update",
        include_str!("templates/knowledge_update.md"),
    ),
];

/// Renders prompts, preferring the repository's overrides.
#[derive(Debug, Clone)]
pub struct Prompts {
    override_dir: Option<PathBuf>,
}

impl Prompts {
    /// Prompts with overrides from `<repo>/.orx/prompts` when that folder exists.
    pub fn new(repo: &Path) -> Self {
        let dir = repo.join(".orx").join("prompts");
        Self {
            override_dir: dir.is_dir().then_some(dir),
        }
    }

    /// The template text of `stage` and where it came from.
    pub fn source(&self, stage: &str) -> Result<(String, String)> {
        if let Some(dir) = &self.override_dir {
            let p = dir.join(format!("{stage}.md"));
            if p.is_file() {
                return Ok((crate::fsutil::read_input(&p)?, p.display().to_string()));
            }
        }
        BUILTIN
            .iter()
            .find(|(n, _)| *n == stage)
            .map(|(_, t)| (t.to_string(), format!("built-in {stage}.md")))
            .ok_or_else(|| Error::Template {
                name: stage.into(),
                message: "no such template".into(),
            })
    }

    /// Renders `stage`'s template with `ctx`.
    pub fn render(&self, stage: &str, ctx: &serde_json::Value) -> Result<String> {
        let (text, origin) = self.source(stage)?;
        let mut env = minijinja::Environment::new();
        // A variable the stage does not give is an error, not an empty string: a typo such as
        // `{{ tsk }}` would send the agent a prompt without its task. `{% if x %}` on a
        // missing value stays allowed.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.render_str(&text, minijinja::Value::from(minijinja::value::Serde(ctx)))
            .map_err(|e| Error::Template {
                message: describe(&e, &text, ctx),
                name: origin,
            })
    }

    /// True when the repository overrides a template.
    pub fn has_overrides(&self) -> bool {
        self.override_dir
            .as_ref()
            .is_some_and(|d| builtin_names().any(|n| d.join(format!("{n}.md")).is_file()))
    }
}

/// A render error in words: for an undefined variable, the line, the expression and the
/// variables the template has.
fn describe(e: &minijinja::Error, text: &str, ctx: &serde_json::Value) -> String {
    if e.kind() != minijinja::ErrorKind::UndefinedError {
        return e.to_string();
    }
    let known: Vec<&str> = ctx
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let line_no = e.line().unwrap_or(0);
    let line = text.lines().nth(line_no.saturating_sub(1)).unwrap_or("");
    let unknown = line
        .split("{{")
        .skip(1)
        .filter_map(|rest| rest.split("}}").next())
        .map(str::trim)
        .find(|expr| {
            let root: String = expr
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            !known.contains(&root.as_str())
        });
    match unknown {
        Some(expr) => format!(
            "line {line_no}: `{{{{ {expr} }}}}` names a variable this template does not have \
             (it has: {})",
            known.join(", ")
        ),
        None => format!(
            "line {line_no}: a value used there is undefined (the template has: {})",
            known.join(", ")
        ),
    }
}

/// The names of the built-in templates.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}
