//! `orx demo`: a small Python project in a temporary folder, run through the standard pipeline
//! by the scripted agent with real gates that need only python3, including one fix loop.

use std::path::{Path, PathBuf};

use crate::agent::{FakeAgent, Scenario};
use crate::git::Git;
use crate::{Error, Result};

/// The demo's task.
pub const TASK: &str = "Add a function add(a, b) to calc.py that returns the sum of a and b, with a unit test, and document it in README.md.";

const FILES: [(&str, &str); 5] = [
    ("calc.py", include_str!("files/calc.py")),
    ("test_calc.py", include_str!("files/test_calc.py")),
    ("README.md", include_str!("files/README.md")),
    ("orx.yaml", include_str!("files/orx.yaml")),
    (".gitignore", "__pycache__/\n*.pyc\n"),
];

const SCENARIO: &str = include_str!("scenario.yaml");

/// The demo's scripted agent.
pub fn scenario() -> Result<Scenario> {
    crate::agent::parse_scenario_text(SCENARIO, "demo scenario")
}

/// The demo's scripted agent, ready to play.
pub fn agent() -> Result<FakeAgent> {
    Ok(FakeAgent::new(scenario()?))
}

/// Creates the demo repository under `parent` (a new folder) and returns its path.
pub fn create(parent: &Path) -> Result<PathBuf> {
    if which("python3").is_none() {
        return Err(Error::repo(
            "the demo needs python3 on PATH for its gates",
            "install Python 3 (the demo runs `python3 -m compileall` and `python3 -m unittest`)",
        ));
    }
    let stamp = crate::run::new_run_id();
    let dir = parent.join(format!("orx-demo-{stamp}"));
    fs_err::create_dir_all(&dir)?;
    for (name, text) in FILES {
        fs_err::write(dir.join(name), text)?;
    }
    let git = Git::new(&dir);
    git.run(&["init", "--quiet", "--initial-branch=main"])?;
    git.run(&["config", "user.name", "orx demo"])?;
    git.run(&["config", "user.email", "demo@orx.invalid"])?;
    git.run(&["config", "commit.gpgsign", "false"])?;
    git.run(&["add", "-A"])?;
    git.run(&[
        "commit",
        "--quiet",
        "--no-verify",
        "-m",
        "Initial calculator",
    ])?;
    Ok(dir)
}

/// The first `program` on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
