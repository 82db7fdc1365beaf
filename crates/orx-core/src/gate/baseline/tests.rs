use std::path::PathBuf;

use super::*;
use crate::gate::TestCounts;

fn config(yaml: &str) -> Vec<GateConfig> {
    crate::yaml::from_str(yaml).unwrap()
}

fn finding(file: &str, line: u32, message: &str) -> Finding {
    Finding {
        file: Some(file.into()),
        line: Some(line),
        message: message.into(),
    }
}

fn result(name: &str, passed: bool, findings: Vec<Finding>) -> GateResult {
    GateResult {
        name: name.into(),
        required: true,
        passed,
        exit_code: Some(if passed { 0 } else { 1 }),
        timed_out: false,
        duration_secs: 0.1,
        fix_ran: false,
        parser: "generic".into(),
        findings,
        counts: None,
        tail: String::new(),
        log: PathBuf::from("log"),
        cannot_start: false,
        against_base: None,
    }
}

const PYTEST: &str = "- {name: tests, command: pytest}\n";

#[test]
fn a_test_failing_on_the_base_is_not_new_even_when_its_line_and_message_change() {
    let gates = config(PYTEST);
    let base = Baseline {
        gates: vec![result(
            "tests",
            false,
            vec![finding(
                "tests/test_a.py",
                10,
                "FAILED tests/test_a.py::test_old: assert 1 == 2",
            )],
        )],
        ..Baseline::default()
    };
    let mut now = result(
        "tests",
        false,
        vec![finding(
            "tests/test_a.py",
            14,
            "FAILED tests/test_a.py::test_old: assert 3 == 2",
        )],
    );
    base.judge(&gates, &mut now);
    assert!(now.counts_as_passed() && !now.blocks());
    assert_eq!(now.against_base.as_ref().unwrap().preexisting.len(), 1);
    assert!(now.findings.is_empty());

    let mut worse = result(
        "tests",
        false,
        vec![
            finding(
                "tests/test_a.py",
                10,
                "FAILED tests/test_a.py::test_old: assert 1 == 2",
            ),
            finding(
                "tests/test_a.py",
                20,
                "FAILED tests/test_a.py::test_new: boom",
            ),
        ],
    );
    base.judge(&gates, &mut worse);
    assert!(worse.blocks());
    assert_eq!(worse.against_base.as_ref().unwrap().new, 1);
    assert_eq!(
        worse.findings[0].message,
        "FAILED tests/test_a.py::test_new: boom"
    );
}

#[test]
fn one_more_of_the_same_rule_in_the_same_file_is_new() {
    let gates = config("- {name: lint, command: ruff, args: [check, .]}\n");
    let base = Baseline {
        gates: vec![result(
            "lint",
            false,
            vec![finding("a.py", 1, "F401 `os` imported but unused")],
        )],
        ..Baseline::default()
    };
    let mut same = result(
        "lint",
        false,
        vec![finding("a.py", 3, "F401 `os` imported but unused")],
    );
    base.judge(&gates, &mut same);
    assert!(!same.blocks());
    let mut more = result(
        "lint",
        false,
        vec![
            finding("a.py", 3, "F401 `os` imported but unused"),
            finding("a.py", 4, "F401 `sys` imported but unused"),
        ],
    );
    base.judge(&gates, &mut more);
    assert!(more.blocks());
    let mut elsewhere = result(
        "lint",
        false,
        vec![finding("b.py", 1, "F401 `os` imported but unused")],
    );
    base.judge(&gates, &mut elsewhere);
    assert!(elsewhere.blocks());
}

#[test]
fn a_gate_that_passed_on_the_base_or_is_not_compared_must_pass() {
    let gates = config(
        "- {name: tests, command: pytest}\n- {name: strict, command: pytest, baseline: ignore}\n",
    );
    let base = Baseline {
        gates: vec![
            result("tests", true, vec![]),
            result("strict", false, vec![]),
        ],
        ..Baseline::default()
    };
    let mut now = result("tests", false, vec![]);
    base.judge(&gates, &mut now);
    assert!(now.blocks() && now.against_base.is_none());
    let mut strict = result("strict", false, vec![]);
    base.judge(&gates, &mut strict);
    assert!(strict.blocks());
}

#[test]
fn more_failed_tests_or_a_new_timeout_are_new_even_without_findings() {
    let gates = config("- {name: tests, command: make}\n");
    let mut base_result = result("tests", false, vec![]);
    base_result.counts = Some(TestCounts {
        passed: 3,
        failed: 1,
    });
    let base = Baseline {
        gates: vec![base_result],
        ..Baseline::default()
    };
    let mut same = result("tests", false, vec![]);
    same.counts = Some(TestCounts {
        passed: 4,
        failed: 1,
    });
    base.judge(&gates, &mut same);
    assert!(!same.blocks());
    let mut more = result("tests", false, vec![]);
    more.counts = Some(TestCounts {
        passed: 2,
        failed: 2,
    });
    base.judge(&gates, &mut more);
    assert!(more.blocks());
    let mut hung = result("tests", false, vec![]);
    hung.timed_out = true;
    base.judge(&gates, &mut hung);
    assert!(hung.blocks());
}

#[test]
fn numbers_in_a_generic_message_do_not_make_it_another_failure() {
    let f = |m: &str| finding("x", 1, m);
    assert_eq!(
        key(ParserKind::Generic, &f("error: 3 tests failed in 0.52s")),
        key(ParserKind::Generic, &f("error:  4 tests failed in 1.9s"))
    );
    assert_ne!(
        key(ParserKind::Generic, &f("error: cannot import name a")),
        key(ParserKind::Generic, &f("error: cannot import name b"))
    );
    assert_eq!(
        key(
            ParserKind::Cargo,
            &f("test tests::adds panicked: left 1 right 2")
        ),
        key(
            ParserKind::Cargo,
            &f("test tests::adds panicked: left 5 right 2")
        )
    );
}

#[test]
fn a_gate_that_cannot_start_stops_first_then_a_dirty_require_clean_gate() {
    let gates = config(
        "- {name: tests, command: pytest}\n- {name: lint, command: ruff, baseline: require_clean}\n",
    );
    let mut missing = result("tests", false, vec![]);
    missing.cannot_start = true;
    let dirty = result("lint", false, vec![finding("a.py", 1, "F401 x")]);
    let both = Baseline {
        gates: vec![dirty.clone(), missing],
        ..Baseline::default()
    };
    assert!(
        matches!(both.stop(&gates), Some(BaselineStop::CannotStart(g)) if g[0].name == "tests")
    );
    let only_dirty = Baseline {
        gates: vec![dirty, result("tests", false, vec![])],
        ..Baseline::default()
    };
    assert!(
        matches!(only_dirty.stop(&gates), Some(BaselineStop::NotClean(g)) if g.len() == 1 && g[0].name == "lint")
    );
    let red_compared = Baseline {
        gates: vec![result(
            "tests",
            false,
            vec![finding("t.py", 2, "FAILED t.py::a")],
        )],
        ..Baseline::default()
    };
    assert!(red_compared.stop(&gates).is_none());
    assert_eq!(
        red_compared.describe(&gates),
        "- gate `tests`:\n  - t.py:2: FAILED t.py::a\n"
    );
}
