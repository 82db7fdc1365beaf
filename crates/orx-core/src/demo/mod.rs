//! `orx demo`: a small Python project in a temporary folder, run through the standard pipeline
//! by the scripted agent with real gates that need only python3, including one fix loop.

use std::path::{Path, PathBuf};

use crate::Result;
use crate::git::Git;

/// The demo's task.
pub const TASK: &str = "Add a function add(a, b) to calc.py that returns the sum of a and b, with a unit test, and document it in README.md.";

const FILES: [(&str, &str); 6] = [
    ("calc.py", include_str!("files/calc.py")),
    ("test_calc.py", include_str!("files/test_calc.py")),
    ("README.md", include_str!("files/README.md")),
    ("orx.yaml", include_str!("files/orx.yaml")),
    // The scenario orx.yaml names: `orx run` and `orx resume` in the demo repository play the
    // same script as `orx demo`.
    (SCENARIO_PATH, SCENARIO),
    (".gitignore", "__pycache__/\n*.pyc\n"),
];

const SCENARIO: &str = include_str!("scenario.yaml");

/// Where the demo repository keeps its scenario (named by its orx.yaml).
pub const SCENARIO_PATH: &str = ".orx/demo-scenario.yaml";

/// Creates the demo repository under `parent` (a new folder) and returns its path.
pub fn create(parent: &Path) -> Result<PathBuf> {
    if which("python3").is_none() {
        return Err(crate::PipelineError::DemoNeedsPython.into());
    }
    let stamp = crate::run::new_run_id();
    let dir = parent.join(format!("orx-demo-{stamp}"));
    fs_err::create_dir_all(&dir)?;
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(path, text)?;
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
pub use crate::agent::find_program as which;
