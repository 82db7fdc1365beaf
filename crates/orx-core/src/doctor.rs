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

/// The command orx starts for `kind`: `executors.<kind>.bin`, else `engine.binary` when `kind` is
/// the engine, else the CLI's usual name.
pub fn binary_for(config: &crate::config::Config, kind: ExecutorKind) -> String {
    config
        .executors
        .get(kind)
        .and_then(|c| c.bin.as_ref())
        .map(|b| b.to_string())
        .or_else(|| {
            (config.engine.kind == kind)
                .then(|| config.engine.binary.as_ref().map(|b| b.to_string()))
                .flatten()
        })
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| kind.default_binary().to_string())
}

/// Finds `program` on PATH (or as a path).
pub fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn version_of(bin: &Path) -> Option<String> {
    let b = bin.display().to_string();
    let (ok, out, err) =
        crate::process::capture(&b, &["--version"], None, Duration::from_secs(15)).ok()?;
    let text = if out.trim().is_empty() { err } else { out };
    ok.then(|| text.lines().next().unwrap_or("").trim().to_string())
}

/// Runs every check for the repository at `repo` with `config`.
pub fn run(repo: &Path, config: &LoadedConfig) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(match Git::version() {
        Some(v) => Check {
            subject: "git".into(),
            status: CheckStatus::Ok,
            detail: format!("git {v}"),
            fix: None,
        },
        None => Check {
            subject: "git".into(),
            status: CheckStatus::Fail,
            detail: "git not found".into(),
            fix: Some(Fix::Do("install git".into())),
        },
    });
    checks.push(match Git::toplevel(repo) {
        Ok(top) => match Git::new(&top).resolve("HEAD") {
            Ok(Some(_)) => Check {
                subject: "repository".into(),
                status: CheckStatus::Ok,
                detail: top.display().to_string(),
                fix: None,
            },
            _ => Check {
                subject: "repository".into(),
                status: CheckStatus::Fail,
                detail: format!("{} has no commit yet", top.display()),
                fix: Some(Fix::Do(
                    "make a first commit (git add -A && git commit -m init): a run starts from one"
                        .into(),
                )),
            },
        },
        Err(_) => Check {
            subject: "repository".into(),
            status: CheckStatus::Fail,
            detail: format!("{} is not inside a git repository", repo.display()),
            fix: Some(Fix::UseRepository),
        },
    });
    checks.push(match &config.path {
        Some(p) => Check {
            subject: "config".into(),
            status: CheckStatus::Ok,
            detail: format!("{} loads", p.display()),
            fix: None,
        },
        None => Check {
            subject: "config".into(),
            status: CheckStatus::Warn,
            detail: "no orx.yaml: built-in defaults (the scripted agent) apply".into(),
            fix: Some(Fix::WriteConfig),
        },
    });
    let routing = resolve_routing(&config.config, &Overrides::default());
    for (kind, stages) in routing.by_executor() {
        if kind == ExecutorKind::Fake {
            checks.push(Check {
                subject: "fake".into(),
                status: CheckStatus::Ok,
                detail: format!("built in (stages: {})", stages.join(", ")),
                fix: None,
            });
            continue;
        }
        let cfg = config.config.executors.get(kind);
        let bin = binary_for(&config.config, kind);
        let Some(path) = find_program(&bin) else {
            checks.push(Check {
                subject: kind.name().into(),
                status: CheckStatus::Fail,
                detail: format!("`{bin}` not found (stages: {})", stages.join(", ")),
                fix: Some(Fix::Do(format!(
                    "install the {kind} CLI, or set executors.{kind}.bin to its path"
                ))),
            });
            continue;
        };
        let version = version_of(&path);
        let tested = tested_version(kind);
        let (status, fix) = match (&version, tested) {
            (None, _) => (
                CheckStatus::Warn,
                Some(Fix::Do(format!(
                    "`{} --version` failed; check the installation",
                    path.display()
                ))),
            ),
            (Some(v), Some(t)) if !v.contains(t) => (
                CheckStatus::Warn,
                Some(Fix::Do(format!(
                    "orx was tested with {kind} {t}; other versions may change flags or output"
                ))),
            ),
            _ => (CheckStatus::Ok, None),
        };
        checks.push(Check {
            subject: kind.name().into(),
            status,
            detail: format!(
                "{} ({}; stages: {})",
                path.display(),
                version.as_deref().unwrap_or("version unknown"),
                stages.join(", ")
            ),
            fix,
        });
        let key_in_config = cfg
            .and_then(|c| c.api_key.as_ref())
            .is_some_and(|k| !k.is_empty());
        let env_var = auth_vars(kind)
            .iter()
            .find(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let login = home.and_then(|h| {
            login_files(kind)
                .iter()
                .map(|f| h.join(f))
                .find(|p| p.exists())
        });
        let auth = if key_in_config {
            Check {
                subject: format!("{kind} auth"),
                status: CheckStatus::Ok,
                detail: format!("executors.{kind}.api_key is set"),
                fix: None,
            }
        } else if let Some(v) = env_var {
            Check {
                subject: format!("{kind} auth"),
                status: CheckStatus::Ok,
                detail: format!("{v} is set"),
                fix: None,
            }
        } else if let Some(l) = login {
            Check {
                subject: format!("{kind} auth"),
                status: CheckStatus::Ok,
                detail: format!("logged in ({})", l.display()),
                fix: None,
            }
        } else {
            Check {
                subject: format!("{kind} auth"),
                status: CheckStatus::Warn,
                detail: "no API key variable and no login found".into(),
                fix: Some(Fix::Do(format!(
                    "set {} or log in with the {kind} CLI",
                    auth_vars(kind).join(" or ")
                ))),
            }
        };
        checks.push(auth);
    }
    for g in config.config.gates.iter().filter(|g| g.enabled) {
        let cmd = g.command.to_string();
        checks.push(
            match find_program(&cmd).or_else(|| {
                let p = repo.join(&cmd);
                p.is_file().then_some(p)
            }) {
                Some(p) => Check {
                    subject: format!("gate {}", g.name),
                    status: CheckStatus::Ok,
                    detail: format!("{}", p.display()),
                    fix: None,
                },
                None => Check {
                    subject: format!("gate {}", g.name),
                    status: if g.required {
                        CheckStatus::Fail
                    } else {
                        CheckStatus::Warn
                    },
                    detail: format!("`{cmd}` not found"),
                    fix: Some(Fix::Do(format!(
                        "install `{cmd}` or fix gates[{}].command",
                        g.name
                    ))),
                },
            },
        );
    }
    checks
}
