//! `orx doctor`: checks git, each routed agent CLI (found, version, tested range, how it
//! authenticates), each gate command, and the config; every problem comes with its fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::{ExecutorKind, LoadedConfig, Overrides, resolve_routing};
use crate::git::Git;

/// How a check came out.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Fine.
    Ok,
    /// Works, with a caveat.
    Warn,
    /// A run would fail.
    Fail,
}

/// What to do about a check that is not ok.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Fix {
    /// A step outside orx (install a tool, set a variable), in words.
    Do(String),
    /// Write a config file for orx.
    WriteConfig,
    /// Work in a git repository with a commit.
    UseRepository,
}

/// One check.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    /// What was checked ("git", "codex", "gate ruff", "config").
    pub subject: String,
    /// How it came out.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
    /// What to do, when something is wrong.
    pub fix: Option<Fix>,
}

/// The CLI versions orx was tested with (the contract tests pin them).
pub fn tested_version(kind: ExecutorKind) -> Option<&'static str> {
    match kind {
        ExecutorKind::Codex => Some("0.169.0"),
        ExecutorKind::Claude => Some("2.1.197"),
        ExecutorKind::Gemini => Some("0.61.0"),
        ExecutorKind::Copilot => Some("1.0.102"),
        ExecutorKind::Cursor | ExecutorKind::Fake => None,
    }
}

/// The environment variables through which each CLI can authenticate.
fn auth_vars(kind: ExecutorKind) -> &'static [&'static str] {
    match kind {
        ExecutorKind::Codex => &["OPENAI_API_KEY", "CODEX_API_KEY"],
        ExecutorKind::Claude => &["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"],
        ExecutorKind::Gemini => &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        ExecutorKind::Copilot => &[
            "COPILOT_GITHUB_TOKEN",
            "GH_TOKEN",
            "GITHUB_TOKEN",
            "COPILOT_PROVIDER_API_KEY",
        ],
        ExecutorKind::Cursor => &["CURSOR_API_KEY"],
        ExecutorKind::Fake => &[],
    }
}

/// Login state a CLI keeps on disk, relative to $HOME.
fn login_files(kind: ExecutorKind) -> &'static [&'static str] {
    match kind {
        ExecutorKind::Codex => &[".codex/auth.json"],
        ExecutorKind::Claude => &[".claude/.credentials.json", ".claude.json"],
        ExecutorKind::Gemini => &[".gemini/oauth_creds.json"],
        ExecutorKind::Copilot => &[".copilot/config.json"],
        ExecutorKind::Cursor => &[".cursor/cli-config.json"],
        ExecutorKind::Fake => &[],
    }
}

pub use crate::agent::{binary_for, find_program};

fn version_of(bin: &Path) -> Option<String> {
    let b = bin.display().to_string();
    let (ok, out, err) =
        crate::process::capture(&b, &["--version"], None, Duration::from_secs(15)).ok()?;
    let text = if out.trim().is_empty() { err } else { out };
    ok.then(|| text.lines().next().unwrap_or("").trim().to_string())
}

/// Runs every check for the repository at `repo` with `config`.
pub fn run(repo: &Path, config: &LoadedConfig) -> Vec<Check> {
    let mut checks = vec![git(), repository(repo), config_file(config)];
    let routing = resolve_routing(&config.config, &Overrides::default());
    for (kind, stages) in routing.by_executor() {
        checks.extend(executor(config, kind, &stages));
    }
    let gates: Vec<Check> = config
        .config
        .gates
        .iter()
        .filter(|g| g.enabled)
        .map(|g| gate(repo, g))
        .collect();
    if gates.is_empty() {
        checks.push(
            Check::new(
                "gates",
                CheckStatus::Warn,
                "no gates: an item passes on the agent's word, nothing checks its change",
            )
            .fix(Fix::Do(
                "add the project's test and lint commands to the `gates:` list of orx.yaml".into(),
            )),
        );
    }
    checks.extend(gates);
    checks.extend(prompt_files(repo));
    checks
}

/// Files in `.orx/prompts/` that replace no template: a misnamed override is silently unused.
fn prompt_files(repo: &Path) -> Vec<Check> {
    let dir = repo.join(".orx").join("prompts");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let known: Vec<&str> = crate::prompt::builtin_names().collect();
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let stem = name.strip_suffix(".md").unwrap_or(&name);
            if known.contains(&stem) && name.ends_with(".md") {
                return None;
            }
            let near = crate::config::load_nearest(stem, &known)
                .map(|n| format!("; did you mean {n}.md?"))
                .unwrap_or_default();
            Some(
                Check::new(
                    format!("prompt {name}"),
                    CheckStatus::Warn,
                    format!(".orx/prompts/{name} replaces no template, so it is not used{near}"),
                )
                .fix(Fix::Do(format!(
                    "name it after a stage: {}",
                    known
                        .iter()
                        .map(|k| format!("{k}.md"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            )
        })
        .collect()
}

impl Check {
    fn new(subject: impl Into<String>, status: CheckStatus, detail: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }
}

fn git() -> Check {
    match Git::version() {
        Some(v) => Check::new("git", CheckStatus::Ok, format!("git {v}")),
        None => {
            Check::new("git", CheckStatus::Fail, "git not found").fix(Fix::Do("install git".into()))
        }
    }
}

fn repository(repo: &Path) -> Check {
    match Git::toplevel(repo) {
        Ok(top) => match Git::new(&top).resolve("HEAD") {
            Ok(Some(_)) => Check::new("repository", CheckStatus::Ok, top.display().to_string()),
            _ => Check::new(
                "repository",
                CheckStatus::Fail,
                format!("{} has no commit yet", top.display()),
            )
            .fix(Fix::Do(
                "make a first commit (git add -A && git commit -m init): a run starts from one"
                    .into(),
            )),
        },
        Err(_) => Check::new(
            "repository",
            CheckStatus::Fail,
            format!("{} is not inside a git repository", repo.display()),
        )
        .fix(Fix::UseRepository),
    }
}

fn config_file(config: &LoadedConfig) -> Check {
    match &config.path {
        Some(p) => Check::new("config", CheckStatus::Ok, format!("{} loads", p.display())),
        None => Check::new(
            "config",
            CheckStatus::Warn,
            "no orx.yaml: built-in defaults (the scripted agent) apply",
        )
        .fix(Fix::WriteConfig),
    }
}

/// The executor's program (found, version against the tested one) and its authentication.
fn executor(config: &LoadedConfig, kind: ExecutorKind, stages: &[&str]) -> Vec<Check> {
    let stages = stages.join(", ");
    if kind == ExecutorKind::Fake {
        let scripted = config
            .config
            .executors
            .fake
            .as_ref()
            .is_some_and(|f| f.scenario.is_some());
        if scripted || config.path.is_none() {
            return vec![Check::new(
                "fake",
                CheckStatus::Ok,
                format!("built in (stages: {stages})"),
            )];
        }
        return vec![
            Check::new(
                "fake",
                CheckStatus::Warn,
                format!(
                    "stages {stages} go to the scripted placeholder agent, which changes nothing \
                     useful in a real project"
                ),
            )
            .fix(Fix::Do(
                "set engine.type in orx.yaml to an agent CLI you have: codex, claude, gemini, \
                 copilot or cursor"
                    .into(),
            )),
        ];
    }
    let bin = binary_for(&config.config, kind);
    let Some(path) = find_program(&bin) else {
        return vec![
            Check::new(
                kind.name(),
                CheckStatus::Fail,
                format!("`{bin}` not found (stages: {stages})"),
            )
            .fix(Fix::Do(format!(
                "install the {kind} CLI, or set executors.{kind}.bin to its path"
            ))),
        ];
    };
    let version = version_of(&path);
    let detail = format!(
        "{} ({}; stages: {stages})",
        path.display(),
        version.as_deref().unwrap_or("version unknown"),
    );
    let program = match (&version, tested_version(kind)) {
        (None, _) => Check::new(kind.name(), CheckStatus::Warn, detail).fix(Fix::Do(format!(
            "`{} --version` failed; check the installation",
            path.display()
        ))),
        (Some(v), Some(t)) if !v.contains(t) => Check::new(kind.name(), CheckStatus::Warn, detail)
            .fix(Fix::Do(format!(
                "orx was tested with {kind} {t}; other versions may change flags or output"
            ))),
        _ => Check::new(kind.name(), CheckStatus::Ok, detail),
    };
    vec![program, auth(config, kind)]
}

/// How the executor authenticates: a key in the config, a variable, or a login on disk.
fn auth(config: &LoadedConfig, kind: ExecutorKind) -> Check {
    let subject = format!("{kind} auth");
    let key_in_config = config
        .config
        .executors
        .get(kind)
        .and_then(|c| c.api_key.as_ref())
        .is_some_and(|k| !k.is_empty());
    if key_in_config {
        return Check::new(
            subject,
            CheckStatus::Ok,
            format!("executors.{kind}.api_key is set"),
        );
    }
    if let Some(v) = auth_vars(kind)
        .iter()
        .find(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
    {
        return Check::new(subject, CheckStatus::Ok, format!("{v} is set"));
    }
    let login = std::env::var_os("HOME").map(PathBuf::from).and_then(|h| {
        login_files(kind)
            .iter()
            .map(|f| h.join(f))
            .find(|p| p.exists())
    });
    match login {
        Some(l) => Check::new(
            subject,
            CheckStatus::Ok,
            format!("logged in ({})", l.display()),
        ),
        None => Check::new(
            subject,
            CheckStatus::Warn,
            "no API key variable and no login found",
        )
        .fix(Fix::Do(format!(
            "set {} or log in with the {kind} CLI",
            auth_vars(kind).join(" or ")
        ))),
    }
}

/// A gate's command can start: found on PATH or in the repository, and one program.
fn gate(repo: &Path, g: &crate::config::GateConfig) -> Check {
    let cmd = g.command.to_string();
    let subject = format!("gate {}", g.name);
    let Some(problem) = crate::gate::CommandProblem::check(g, repo) else {
        let found = find_program(&cmd).unwrap_or_else(|| repo.join(&cmd));
        return Check::new(subject, CheckStatus::Ok, found.display().to_string());
    };
    let detail = match &problem {
        crate::gate::CommandProblem::ArgumentsInCommand { program, .. } => {
            format!("`{cmd}` is a program with its arguments (`{program}` and more)")
        }
        _ => format!("`{cmd}` not found"),
    };
    Check::new(
        subject,
        if g.required {
            CheckStatus::Fail
        } else {
            CheckStatus::Warn
        },
        detail,
    )
    .fix(Fix::Do(problem.fix(g)))
}
