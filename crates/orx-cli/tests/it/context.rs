//! Repository context for Python, TypeScript, Rust and Go samples (snapshots), and prompt
//! overrides from `.orx/prompts/`.

use orx_core::config::{Config, load_str};
use orx_testkit::TestRepo;

use crate::{orx_ok, repo_with, scenario};

fn context_of(files: &[(&str, &str)]) -> String {
    let repo = TestRepo::new(files);
    let config: Config = load_str(
        "gates:\n  - name: check\n    command: make\n    args: [check]\n",
        "orx.yaml",
        Default::default(),
    )
    .unwrap()
    .config;
    let c = orx_core::context::build(repo.path(), &config);
    format!(
        "{}\n{}\n{}",
        c.project_map, c.tooling_snapshot, c.verify_commands
    )
}

#[test]
fn python_context() {
    insta::assert_snapshot!(context_of(&[
        (
            "pyproject.toml",
            "[project]\nname = \"shop\"\nrequires-python = \">=3.11\"\ndependencies = [\n  \"fastapi>=0.110\",\n  \"pydantic\",\n]\n\n[tool.ruff]\nline-length = 100\n\n[tool.pytest.ini_options]\naddopts = \"-q\"\n"
        ),
        ("requirements-dev.txt", "# dev\nmypy==1.10\n"),
        ("shop/__init__.py", ""),
        ("shop/api.py", "x = 1\n"),
        ("tests/test_api.py", "def test(): pass\n"),
    ]));
}

#[test]
fn typescript_context() {
    insta::assert_snapshot!(context_of(&[
        (
            "package.json",
            r#"{"name": "web", "scripts": {"build": "tsc -p .", "lint": "eslint .", "test": "vitest run"}, "devDependencies": {"typescript": "5.6.0", "vitest": "2.0.0", "eslint": "9.0.0"}}"#
        ),
        (
            "tsconfig.json",
            "{\"compilerOptions\": {\"strict\": true}}\n"
        ),
        ("eslint.config.js", "export default [];\n"),
        ("src/index.ts", "export const x = 1;\n"),
    ]));
}

#[test]
fn rust_context() {
    insta::assert_snapshot!(context_of(&[
        (
            "Cargo.toml",
            "[workspace]\nresolver = \"2\"\nmembers = [\n    \"crates/core\",\n    \"crates/cli\",\n]\n\n[workspace.package]\nedition = \"2021\"\n"
        ),
        ("rust-toolchain.toml", "[toolchain]\nchannel = \"1.80\"\n"),
        ("crates/core/Cargo.toml", "[package]\nname = \"core\"\n"),
        ("crates/core/src/lib.rs", "pub fn f() {}\n"),
        ("crates/cli/Cargo.toml", "[package]\nname = \"cli\"\n"),
        ("crates/cli/src/main.rs", "fn main() {}\n"),
    ]));
}

#[test]
fn go_context() {
    insta::assert_snapshot!(context_of(&[
        (
            "go.mod",
            "module example.com/svc\n\ngo 1.22\n\nrequire (\n\tgithub.com/a/b v1.0.0\n\tgithub.com/c/d v0.3.1 // indirect\n)\n"
        ),
        ("main.go", "package main\n"),
        ("internal/db/db.go", "package db\n"),
        (".golangci.yml", "linters: {}\n"),
    ]));
}

#[test]
fn context_stays_within_its_budget() {
    let files: Vec<(String, String)> = (0..2000)
        .map(|i| (format!("src/module_{i:04}.py"), "x = 1\n".to_string()))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let repo = TestRepo::new(&refs);
    let c = orx_core::context::build(repo.path(), &Config::default());
    assert!(
        c.project_map.len() <= orx_core::context::BUDGET,
        "{}",
        c.project_map.len()
    );
    assert!(c.project_map.contains("2000 tracked files") && c.project_map.contains("more"));
}

#[test]
fn context_reaches_the_prompts_and_templates_can_be_overridden() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let repo = repo_with(
        &[("go.mod", "module m\n\ngo 1.22\n")],
        &scenario(items, "  - write: { a.txt: x }\n", ""),
        "",
    );
    repo.write(
        ".orx/prompts/plan.md",
        "CUSTOM PLAN PROMPT for {{ task }}\n",
    );
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "prompts"]);
    orx_ok(&repo, &["run", "the task"], 0);
    let id = repo.single_run();
    assert_eq!(
        repo.run_file(&id, "prompts/plan.md"),
        "CUSTOM PLAN PROMPT for the task\n"
    );
    let spec = repo.run_file(&id, "prompts/spec.md");
    assert!(
        spec.contains("## Go") && spec.contains("- module: m"),
        "{spec}"
    );
    let implement = repo.run_file(&id, "prompts/implement_W001_1.md");
    assert!(implement.contains("`go test ./...`"), "{implement}");
    let decompose = repo.run_file(&id, "prompts/decompose.md");
    assert!(decompose.contains("the task"));
    assert!(
        repo.run_file(&id, "context/tooling_snapshot.md")
            .contains("## Go")
    );
}
