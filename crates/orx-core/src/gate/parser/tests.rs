//! Each parser on real output of the real tool (ruff, pytest, cargo, python unittest).

use std::path::Path;
use std::process::Command;

use super::*;

/// Runs a tool in `dir`; None (test skipped) when it is missing outside CI. In CI a missing
/// tool is a failure, because .ci/run installs every tool.
fn tool_output(dir: &Path, program: &str, args: &[&str]) -> Option<String> {
    match Command::new(program).args(args).current_dir(dir).output() {
        Ok(o) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            if text.contains("No module named") {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{program} {args:?} is required in CI: {text}"
                );
                eprintln!("skipped: {program} {args:?}: {text}");
                return None;
            }
            Some(text)
        }
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{program} is required in CI: {e}"
            );
            eprintln!("skipped: {program} not installed ({e})");
            None
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn ruff_json_output() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "pkg/mod.py",
        "import os\n\n\ndef f():\n    return undefined_name\n",
    );
    let Some(out) = tool_output(
        d.path(),
        "python3",
        &[
            "-m",
            "ruff",
            "check",
            ".",
            "--output-format=json",
            "--no-cache",
        ],
    ) else {
        return;
    };
    let p = parse(ParserKind::Ruff, &out, d.path());
    let codes: Vec<_> = p
        .findings
        .iter()
        .map(|f| {
            (
                f.file.clone().unwrap(),
                f.line.unwrap(),
                f.message.split(' ').next().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        codes.contains(&("pkg/mod.py".into(), 1, "F401".into())),
        "{codes:?}\n{out}"
    );
    assert!(
        codes.contains(&("pkg/mod.py".into(), 5, "F821".into())),
        "{codes:?}"
    );
}

#[test]
fn ruff_text_output() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.py", "import sys\n");
    let Some(out) = tool_output(
        d.path(),
        "python3",
        &[
            "-m",
            "ruff",
            "check",
            ".",
            "--output-format=concise",
            "--no-cache",
        ],
    ) else {
        return;
    };
    let p = parse(ParserKind::Ruff, &out, d.path());
    assert_eq!(p.findings.len(), 1, "{out}");
    assert_eq!(p.findings[0].file.as_deref(), Some("a.py"));
    assert_eq!(p.findings[0].line, Some(1));
    assert!(p.findings[0].message.contains("F401"), "{:?}", p.findings);
}

#[test]
fn pytest_failures_and_counts() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "calc.py", "def add(a, b):\n    return a - b\n");
    write(
        d.path(),
        "tests/test_calc.py",
        "from calc import add\n\n\ndef test_ok():\n    assert 1 == 1\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    );
    write(d.path(), "conftest.py", "");
    let Some(out) = tool_output(
        d.path(),
        "python3",
        &["-m", "pytest", "-q", "-p", "no:cacheprovider"],
    ) else {
        return;
    };
    let p = parse(ParserKind::Pytest, &out, d.path());
    assert_eq!(
        p.counts,
        Some(crate::gate::TestCounts {
            passed: 1,
            failed: 1
        }),
        "{out}"
    );
    assert_eq!(p.findings.len(), 1, "{:?}", p.findings);
    let f = &p.findings[0];
    assert_eq!(f.file.as_deref(), Some("tests/test_calc.py"));
    assert_eq!(f.line, Some(9));
    assert!(
        f.message.contains("test_add") && f.message.contains("assert"),
        "{}",
        f.message
    );
}

fn cargo_project(dir: &Path, lib: &str) {
    write(
        dir,
        "Cargo.toml",
        "[package]\nname = \"probe\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    write(dir, "src/lib.rs", lib);
}

#[test]
fn cargo_test_panics_and_counts() {
    let d = tempfile::tempdir().unwrap();
    cargo_project(
        d.path(),
        "pub fn add(a: i32, b: i32) -> i32 { a - b }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn ok() { assert_eq!(1, 1); }\n    #[test]\n    fn adds() {\n        assert_eq!(super::add(2, 3), 5);\n    }\n}\n",
    );
    let target = d.path().join("target");
    let out = Command::new("cargo")
        .args(["test", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(d.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let p = parse(ParserKind::Cargo, &text, d.path());
    assert_eq!(
        p.counts,
        Some(crate::gate::TestCounts {
            passed: 1,
            failed: 1
        }),
        "{text}"
    );
    let f = &p.findings[0];
    assert_eq!(f.file.as_deref(), Some("src/lib.rs"), "{text}");
    assert_eq!(f.line, Some(8));
    assert!(
        f.message.contains("tests::adds") && f.message.contains("left"),
        "{}",
        f.message
    );
}

#[test]
fn cargo_build_and_clippy_diagnostics() {
    let d = tempfile::tempdir().unwrap();
    cargo_project(
        d.path(),
        "pub fn f() -> u32 {\n    let x: u32 = \"no\";\n    x\n}\n",
    );
    let target = d.path().join("target");
    let out = Command::new("cargo")
        .args(["build", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(d.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    let p = parse(ParserKind::Cargo, &text, d.path());
    assert_eq!(p.findings.len(), 1, "{text}\n{:?}", p.findings);
    assert_eq!(p.findings[0].file.as_deref(), Some("src/lib.rs"));
    assert_eq!(p.findings[0].line, Some(2));
    assert!(
        p.findings[0]
            .message
            .starts_with("error[E0308]: mismatched types")
    );

    cargo_project(
        d.path(),
        "pub fn f() -> u32 {\n    let unused = 1;\n    2\n}\n",
    );
    let out = Command::new("cargo")
        .args(["clippy", "--offline", "--quiet", "--", "-D", "warnings"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(d.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    if text.contains("no such command") {
        assert!(std::env::var_os("CI").is_none(), "clippy is required in CI");
        return;
    }
    let p = parse(ParserKind::Cargo, &text, d.path());
    assert!(
        p.findings
            .iter()
            .any(|f| f.line == Some(2) && f.message.contains("unused variable")),
        "{text}\n{:?}",
        p.findings
    );
}

#[test]
fn generic_python_unittest_output() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "calc.py", "def add(a, b):\n    return a - b\n");
    write(
        d.path(),
        "test_calc.py",
        "import unittest\nfrom calc import add\n\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n",
    );
    let out = tool_output(d.path(), "python3", &["-m", "unittest", "-q"]).unwrap();
    let p = parse(ParserKind::Generic, &out, d.path());
    assert!(
        p.findings.iter().any(|f| f
            .file
            .as_deref()
            .is_some_and(|x| x.ends_with("test_calc.py"))
            && f.line == Some(7)
            && f.message.contains("AssertionError")),
        "{out}\n{:?}",
        p.findings
    );
    assert!(
        p.findings
            .iter()
            .any(|f| f.message.starts_with("FAIL: test_add")),
        "{:?}",
        p.findings
    );
}

#[test]
fn specific_parser_falls_back_to_generic_lines() {
    let p = parse(
        ParserKind::Pytest,
        "ImportError: no module named foo\n",
        Path::new("/x"),
    );
    assert_eq!(p.findings.len(), 1);
}
