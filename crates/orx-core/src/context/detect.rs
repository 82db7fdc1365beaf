//! Recognising the project's ecosystems from their manifests at the repository root.

use std::path::Path;

use super::toml_lite::{has_section, strings, value};

/// One ecosystem found in the repository.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Ecosystem {
    /// Python, JavaScript/TypeScript, Rust or Go.
    pub name: String,
    /// What was learned, as (label, value) in a stable order.
    pub facts: Vec<(String, String)>,
    /// Commands that verify a change in this ecosystem.
    pub commands: Vec<String>,
}

fn read(root: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(root.join(name)).ok()
}

fn exists(root: &Path, name: &str) -> bool {
    root.join(name).exists()
}

fn list(items: &[String], max: usize) -> String {
    if items.len() <= max {
        items.join(", ")
    } else {
        format!("{}, … ({} in all)", items[..max].join(", "), items.len())
    }
}

/// Every ecosystem recognised at `root`.
pub fn detect(root: &Path) -> Vec<Ecosystem> {
    [python(root), javascript(root), rust(root), go(root)]
        .into_iter()
        .flatten()
        .collect()
}

fn python(root: &Path) -> Option<Ecosystem> {
    let pyproject = read(root, "pyproject.toml");
    let requirements: Vec<&str> = [
        "requirements.txt",
        "requirements-dev.txt",
        "requirements_dev.txt",
    ]
    .into_iter()
    .filter(|f| exists(root, f))
    .collect();
    if pyproject.is_none()
        && requirements.is_empty()
        && !exists(root, "setup.py")
        && !exists(root, "setup.cfg")
        && !has_python_tests(root)
    {
        return None;
    }
    let mut e = Ecosystem {
        name: "Python".into(),
        ..Default::default()
    };
    let deps = python_deps(root, pyproject.as_deref(), &requirements, &mut e);
    let py = pyproject.as_deref().unwrap_or("");
    let dep = |name: &str| {
        deps.iter()
            .any(|d| d.to_ascii_lowercase().starts_with(name))
    };
    let ruff = has_section(py, "tool.ruff")
        || exists(root, "ruff.toml")
        || exists(root, ".ruff.toml")
        || dep("ruff");
    let pytest = has_section(py, "tool.pytest")
        || exists(root, "pytest.ini")
        || exists(root, "conftest.py")
        || dep("pytest");
    let mypy = has_section(py, "tool.mypy") || exists(root, "mypy.ini") || dep("mypy");
    let tools: Vec<String> = [("ruff", ruff), ("pytest", pytest), ("mypy", mypy)]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(t, _)| t.to_string())
        .collect();
    if !tools.is_empty() {
        e.facts.push(("tools".into(), tools.join(", ")));
    }
    if ruff {
        e.commands.push("ruff check .".into());
    }
    if mypy {
        e.commands.push("mypy .".into());
    }
    e.commands.push(if pytest {
        "pytest -q".into()
    } else {
        "python3 -m unittest discover".into()
    });
    Some(e)
}

/// Python test files (`test_*.py`, `*_test.py`) at the root or in `tests/`: a project without a
/// manifest is still a Python project with tests.
fn has_python_tests(root: &Path) -> bool {
    let is_test = |name: &str| {
        name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
    };
    [root.to_path_buf(), root.join("tests")].iter().any(|dir| {
        std::fs::read_dir(dir).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_str().is_some_and(is_test))
        })
    })
}

/// A gate proposed for the project: a verify command as orx.yaml's `gates` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposedGate {
    /// The gate's name.
    pub name: String,
    /// The program.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The program is on PATH.
    pub found: bool,
}

/// The project's verify commands as gates, in the order they are worth running (formatting and
/// lint first, tests last within each ecosystem).
pub fn proposed_gates(root: &Path) -> Vec<ProposedGate> {
    let mut gates: Vec<ProposedGate> = Vec::new();
    for command in detect(root).into_iter().flat_map(|e| e.commands) {
        let words: Vec<String> = command.split_whitespace().map(String::from).collect();
        let Some((program, args)) = words.split_first() else {
            continue;
        };
        let name = gate_name(program, args);
        if gates.iter().any(|g| g.name == name) {
            continue;
        }
        gates.push(ProposedGate {
            name,
            command: program.clone(),
            args: args.to_vec(),
            found: crate::agent::find_program(program).is_some(),
        });
    }
    gates
}

/// `ruff check .` → ruff, `python3 -m unittest discover` → unittest, `cargo clippy …` →
/// clippy, `npm run lint` → lint, `go vet ./...` → go-vet.
fn gate_name(program: &str, args: &[String]) -> String {
    let first = args.first().map(String::as_str).unwrap_or("");
    match program {
        "python3" | "python" if first == "-m" => args.get(1).cloned().unwrap_or_default(),
        "cargo" => match first {
            "fmt" => "rustfmt".into(),
            "test" => "cargo-test".into(),
            other => other.to_string(),
        },
        "npm" | "pnpm" | "yarn" if first == "run" => args.get(1).cloned().unwrap_or_default(),
        "npm" | "pnpm" | "yarn" => first.to_string(),
        "npx" => first.to_string(),
        "go" => format!("go-{first}"),
        _ => program.to_string(),
    }
}

/// The project's facts from pyproject.toml and its requirements files; gives the dependencies.
fn python_deps(
    root: &Path,
    pyproject: Option<&str>,
    requirements: &[&str],
    e: &mut Ecosystem,
) -> Vec<String> {
    let mut deps: Vec<String> = Vec::new();
    if let Some(p) = pyproject {
        e.facts.push(("manifest".into(), "pyproject.toml".into()));
        if let Some(n) = value(p, "project", "name") {
            e.facts.push(("name".into(), strings(&n).join("")));
        }
        if let Some(r) = value(p, "project", "requires-python") {
            e.facts
                .push(("requires-python".into(), strings(&r).join("")));
        }
        if let Some(d) = value(p, "project", "dependencies") {
            deps.extend(strings(&d));
        }
    }
    for f in requirements {
        e.facts.push(("requirements".into(), (*f).to_string()));
        if let Some(t) = read(root, f) {
            deps.extend(
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from),
            );
        }
    }
    if !deps.is_empty() {
        e.facts.push(("dependencies".into(), list(&deps, 20)));
    }
    deps
}

fn javascript(root: &Path) -> Option<Ecosystem> {
    let pkg = read(root, "package.json")?;
    let mut e = Ecosystem {
        name: "JavaScript/TypeScript".into(),
        ..Default::default()
    };
    let v: serde_json::Value = serde_json::from_str(&pkg).unwrap_or_default();
    if let Some(n) = v.get("name").and_then(|n| n.as_str()) {
        e.facts.push(("name".into(), n.to_string()));
    }
    let manager = if exists(root, "pnpm-lock.yaml") {
        "pnpm"
    } else if exists(root, "yarn.lock") {
        "yarn"
    } else {
        "npm"
    };
    e.facts.push(("package manager".into(), manager.into()));
    let scripts: Vec<(String, String)> = v
        .get("scripts")
        .and_then(|s| s.as_object())
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    for (k, cmd) in &scripts {
        e.facts.push((format!("script `{k}`"), cmd.clone()));
    }
    let mut deps: Vec<String> = Vec::new();
    for key in ["dependencies", "devDependencies"] {
        if let Some(o) = v.get(key).and_then(|d| d.as_object()) {
            deps.extend(o.keys().cloned());
        }
    }
    if !deps.is_empty() {
        e.facts.push(("dependencies".into(), list(&deps, 20)));
    }
    let ts = exists(root, "tsconfig.json");
    if ts {
        e.facts.push(("typescript".into(), "tsconfig.json".into()));
    }
    let eslint = [
        "eslint.config.js",
        "eslint.config.mjs",
        "eslint.config.cjs",
        ".eslintrc",
        ".eslintrc.js",
        ".eslintrc.json",
        ".eslintrc.cjs",
    ]
    .into_iter()
    .find(|f| exists(root, f));
    if let Some(f) = eslint {
        e.facts.push(("eslint".into(), f.into()));
    }
    e.commands = js_commands(manager, &scripts, ts, eslint.is_some());
    Some(e)
}

/// The checks to run: the package's own lint, typecheck, test and build scripts, then tsc and
/// eslint where the project uses them without a script.
fn js_commands(manager: &str, scripts: &[(String, String)], ts: bool, eslint: bool) -> Vec<String> {
    let has = |s: &str| scripts.iter().any(|(k, _)| k == s);
    let mut commands = Vec::new();
    for s in ["lint", "typecheck", "test", "build"] {
        if has(s) {
            commands.push(match (s, manager) {
                ("test", "npm") => "npm test".to_string(),
                (_, "npm") => format!("npm run {s}"),
                _ => format!("{manager} {s}"),
            });
        }
    }
    if ts && !has("typecheck") {
        commands.push("npx tsc --noEmit".into());
    }
    if eslint && !has("lint") {
        commands.push("npx eslint .".into());
    }
    commands
}

fn rust(root: &Path) -> Option<Ecosystem> {
    let cargo = read(root, "Cargo.toml")?;
    let mut e = Ecosystem {
        name: "Rust".into(),
        ..Default::default()
    };
    if let Some(n) = value(&cargo, "package", "name") {
        e.facts.push(("crate".into(), strings(&n).join("")));
    }
    let edition = value(&cargo, "package", "edition")
        .or_else(|| value(&cargo, "workspace.package", "edition"));
    if let Some(ed) = edition {
        e.facts.push(("edition".into(), strings(&ed).join("")));
    }
    if let Some(m) = value(&cargo, "workspace", "members") {
        e.facts
            .push(("workspace members".into(), list(&strings(&m), 30)));
    }
    if let Some(t) = read(root, "rust-toolchain.toml").or_else(|| read(root, "rust-toolchain")) {
        let ch = value(&t, "toolchain", "channel")
            .map(|c| strings(&c).join(""))
            .unwrap_or_else(|| t.trim().to_string());
        e.facts.push(("toolchain".into(), ch));
    }
    if exists(root, "clippy.toml") {
        e.facts.push(("clippy".into(), "clippy.toml".into()));
    }
    e.commands.extend([
        "cargo fmt --all -- --check".into(),
        "cargo clippy --all-targets -- -D warnings".into(),
        "cargo test".into(),
    ]);
    Some(e)
}

fn go(root: &Path) -> Option<Ecosystem> {
    let gomod = read(root, "go.mod")?;
    let mut e = Ecosystem {
        name: "Go".into(),
        ..Default::default()
    };
    let mut requires = 0;
    let mut in_require = false;
    for line in gomod.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("module ") {
            e.facts.push(("module".into(), m.trim().into()));
        } else if let Some(v) = line.strip_prefix("go ") {
            e.facts.push(("go".into(), v.trim().into()));
        } else if line.starts_with("require (") {
            in_require = true;
        } else if in_require && line == ")" {
            in_require = false;
        } else if (in_require && !line.is_empty() && !line.starts_with("//"))
            || line.starts_with("require ")
        {
            requires += 1;
        }
    }
    e.facts.push(("requirements".into(), requires.to_string()));
    if exists(root, ".golangci.yml") || exists(root, ".golangci.yaml") {
        e.facts.push(("golangci-lint".into(), "configured".into()));
        e.commands.push("golangci-lint run".into());
    }
    e.commands
        .extend(["go vet ./...".into(), "go test ./...".into()]);
    Some(e)
}
