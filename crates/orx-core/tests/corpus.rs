//! The bad-input corpus (`tests/corpus/`): broken configs, backlogs an agent might write, and agent
//! streams with garbage, plus generated extremes (10 MB lines, binary noise, huge values). Every
//! case gets a clear error or is handled; nothing panics.
//!
//! Config and backlog files start with the expected outcome: `# expect: <text in the error>` or
//! `<!-- expect: ok N -->` / `<!-- expect: <text in the error> -->`; `error` means any error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use orx_core::agent::cli::parser_for;
use orx_core::config::{ExecutorKind, load_str};
use orx_core::pipeline::backlog;

fn corpus(sub: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(sub);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// The first line's expectation and the rest of the file.
fn expectation(text: &str, open: &str, close: &str) -> (String, String) {
    let text = text.trim_start_matches('\u{feff}');
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let e = first
        .trim()
        .strip_prefix(open)
        .and_then(|r| r.trim_end().strip_suffix(close))
        .unwrap_or_else(|| panic!("no expect line in {first:?}"))
        .trim()
        .to_string();
    (e, rest.to_string())
}

#[test]
fn every_broken_config_is_refused_with_a_clear_error() {
    let files = corpus("config");
    assert!(files.len() >= 30, "{} config cases", files.len());
    let mut wrong = Vec::new();
    for f in &files {
        let raw = String::from_utf8_lossy(&std::fs::read(f).unwrap()).to_string();
        let (expect, _) = expectation(&raw, "# expect:", "");
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        match load_str(&raw, "orx.yaml", BTreeMap::new()) {
            Ok(_) => wrong.push(format!("{name}: loaded, expected an error with {expect:?}")),
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("orx.yaml"),
                    "{name}: the error names no file: {msg}"
                );
                if expect != "error" && !msg.contains(&expect) {
                    wrong.push(format!("{name}: expected {expect:?} in: {msg}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_bad_backlog_is_refused_and_every_good_one_accepted() {
    let files = corpus("backlog");
    assert!(files.len() >= 12, "{} backlog cases", files.len());
    let mut wrong = Vec::new();
    for f in &files {
        let raw = String::from_utf8_lossy(&std::fs::read(f).unwrap()).to_string();
        let (expect, body) = expectation(&raw, "<!-- expect:", "-->");
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let result = backlog::extract(&body).and_then(|items| {
            backlog::validate(&items)?;
            backlog::topo_order(&items)?;
            Ok(items)
        });
        match (expect.strip_prefix("ok "), result) {
            (Some(n), Ok(items)) if items.len().to_string() == n.trim() => {}
            (Some(n), Ok(items)) => {
                wrong.push(format!("{name}: {} items, expected {n}", items.len()))
            }
            (Some(_), Err(e)) => wrong.push(format!("{name}: refused: {e}")),
            (None, Ok(items)) => wrong.push(format!("{name}: accepted {} items", items.len())),
            (None, Err(e)) => {
                if expect != "error" && !e.to_string().contains(&expect) {
                    wrong.push(format!("{name}: expected {expect:?} in: {e}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn parse_all(kind: ExecutorKind, text: &str) -> orx_core::agent::cli::Parsed {
    let mut p = parser_for(kind);
    for line in text.lines() {
        p.line(line);
    }
    p.finish()
}

#[test]
fn garbage_streams_are_parsed_without_a_panic() {
    let mut n = 0;
    for (kind, dir) in [
        (ExecutorKind::Codex, "codex"),
        (ExecutorKind::Claude, "claude"),
        (ExecutorKind::Gemini, "gemini"),
        (ExecutorKind::Copilot, "copilot"),
        (ExecutorKind::Cursor, "cursor"),
    ] {
        for f in corpus(&format!("streams/{dir}")) {
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_string();
            let parsed = parse_all(kind, &text);
            // A stream without a final success event is never taken for a success.
            if !text.contains("completed") && !text.contains("result") && !text.contains("\"idle\"")
            {
                assert_ne!(parsed.success, Some(true), "{}", f.display());
            }
            n += 1;
        }
    }
    assert!(n >= 10, "{n} stream cases");
}

#[test]
fn generated_extremes_are_handled() {
    // A 10 MB line, binary noise and NUL bytes in every parser.
    let long = format!(
        "{{\"type\":\"message\",\"text\":\"{}\"}}",
        "x".repeat(10 << 20)
    );
    let noise: String = (0..200_000u32)
        .map(|i| char::from_u32((i.wrapping_mul(2_654_435_761) >> 7) % 0xD7FF).unwrap_or('?'))
        .collect();
    for kind in [
        ExecutorKind::Codex,
        ExecutorKind::Claude,
        ExecutorKind::Gemini,
        ExecutorKind::Copilot,
        ExecutorKind::Cursor,
    ] {
        let p = parse_all(kind, &long);
        assert_ne!(p.success, Some(true));
        parse_all(kind, &noise);
        parse_all(kind, "\0\0\0{\"type\":\0}\n\u{fffd}\n");
    }
    // A config with a 1 MB value and one nested far too deep.
    let huge = format!(
        "engine:\n  type: fake\n  model: \"{}\"\n",
        "m".repeat(1 << 20)
    );
    assert!(load_str(&huge, "orx.yaml", BTreeMap::new()).is_ok());
    let deep = format!("engine: {}{}\n", "[".repeat(5000), "]".repeat(5000));
    let e = load_str(&deep, "orx.yaml", BTreeMap::new()).unwrap_err();
    assert!(e.to_string().contains("orx.yaml"));
    // A backlog of 10,000 items and a 10 MB reply without one.
    let many: String = (1..=10_000)
        .map(|i| format!("  - id: W{i:05}\n    title: t\n    acceptance: [a]\n"))
        .collect();
    let items = backlog::extract(&format!("```yaml\nitems:\n{many}```\n")).unwrap();
    assert_eq!(items.len(), 10_000);
    assert!(backlog::extract(&"no backlog here ".repeat(700_000)).is_err());
}

/// Real failed CI logs (`tests/corpus/ci/`) become evidence a fraction of their size that keeps
/// the failing tests' names and locations (issue 17). Prints the sizes:
/// `cargo test -p orx-core --test corpus ci_logs -- --nocapture`.
#[test]
fn ci_logs_become_small_evidence_that_keeps_the_failing_names() {
    use orx_core::gate::ci_log::{DEFAULT_CAP, evidence};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/ci");
    let cases: [(&str, &[&str]); 4] = [
        (
            "pytest.log",
            &[
                "tests/test_calc.py:17",
                "test_mean_of_halves",
                "assert 1 == 1.5",
            ],
        ),
        (
            "cargo.log",
            &[
                "tests::fee_rounds_up",
                "src/lib.rs:414",
                "a fee of 1.5 rounds up",
            ],
        ),
        (
            "ruff.log",
            &["src/a.py:1", "F401", "`os` imported but unused"],
        ),
        (
            "eslint.log",
            &[
                "src/cart.js:2: column 7: 'count' is assigned a value but never used (no-unused-vars)",
                "src/cart.js:5: column 18: Expected '===' and instead saw '==' (eqeqeq)",
                "src/cart.js:8: column 10: 'summ' is not defined (no-undef)",
            ],
        ),
    ];
    for (file, must) in cases {
        let raw = std::fs::read_to_string(dir.join(file)).unwrap();
        let e = evidence("test", &raw, DEFAULT_CAP);
        for m in must {
            assert!(
                e.text.contains(m),
                "{file}: `{m}` is missing from\n{}",
                e.text
            );
        }
        // What the runner printed around the failing step is not the agent's business.
        for noise in [
            "Download action repository",
            "git version",
            "Requirement already satisfied",
            "PASSED",
            "2026-11-30T",
        ] {
            assert!(
                !e.text.contains(noise),
                "{file}: `{noise}` kept in\n{}",
                e.text
            );
        }
        assert!(
            e.text.len() * 2 < raw.len(),
            "{file}: {} of {} bytes",
            e.text.len(),
            raw.len()
        );
        if std::env::var_os("ORX_SHOW_EVIDENCE").is_some() {
            println!("{}", e.text);
        }
        println!(
            "ci evidence {file}: {} bytes of a {} byte log ({:.1}%), {} failure(s) located, parser {:?}",
            e.text.len(),
            raw.len(),
            100.0 * e.text.len() as f64 / raw.len() as f64,
            e.findings.iter().filter(|f| f.file.is_some()).count(),
            e.parser
        );
    }
}
