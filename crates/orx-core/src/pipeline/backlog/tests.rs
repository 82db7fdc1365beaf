use super::*;

const PLAIN: &str = "items:\n  - id: W001\n    title: Add add()\n    acceptance: [add(2,3) == 5]\n  - id: W002\n    title: Test it\n    acceptance:\n      - a test exists\n    depends_on: [W001]\n";

fn ids(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

#[test]
fn five_messy_shapes_are_extracted() {
    let fenced = format!("Sure! Here is the backlog:\n\n```yaml\n{PLAIN}```\n\nLet me know.");
    let bare_fence = format!("```\n{PLAIN}```");
    let json = serde_json::json!({"items": [
        {"id": "W001", "title": "Add add()", "acceptance": ["works"]},
        {"id": "W002", "title": "Test it", "acceptance": "a test exists", "depends_on": ["W001"]}
    ]})
    .to_string();
    let wrapped = serde_json::json!({"type": "result", "result": fenced.clone()}).to_string();
    let prose = format!("I split the work as follows.\n{PLAIN}That is all, thanks.\n");
    for (name, text) in [
        ("plain", PLAIN.to_string()),
        ("fenced", fenced),
        ("bare fence", bare_fence),
        ("json", json),
        ("json-wrapped", wrapped),
        ("prose", prose),
    ] {
        let items = extract(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ids(&items), ["W001", "W002"], "{name}");
        assert_eq!(items[1].depends_on, ["W001"], "{name}");
        assert!(!items[1].acceptance.is_empty(), "{name}");
    }
}

#[test]
fn invalid_backlogs_name_the_problem() {
    let cases = [
        (
            "items:\n  - id: W001\n    title: A\n    acceptance: [x]\n  - id: W001\n    title: B\n    acceptance: [y]\n",
            "used twice",
        ),
        (
            "items:\n  - id: W001\n    title: A\n    acceptance: [x]\n    depends_on: [W009]\n",
            "unknown item W009",
        ),
        (
            "items:\n  - id: W001\n    title: A\n    acceptance: [x]\n    depends_on: [W002]\n  - id: W002\n    title: B\n    acceptance: [y]\n    depends_on: [W001]\n",
            "cycle",
        ),
        ("items:\n  - id: W001\n    title: A\n", "no acceptance"),
        (
            "items:\n  - id: task-1\n    title: A\n    acceptance: [x]\n",
            "not of the form",
        ),
        ("I could not decide.", "no YAML backlog"),
        ("items: []\n", "no items"),
    ];
    for (text, want) in cases {
        let err = extract(text).unwrap_err().to_string();
        assert!(err.contains(want), "{text:?}: {err}");
    }
    // An id of 5,000 digits would later name files: refused here, with the reason, shortened.
    let long = format!(
        "items:\n  - id: W{}\n    title: A\n    acceptance: [x]\n",
        "1".repeat(5000)
    );
    let err = extract(&long).unwrap_err().to_string();
    assert!(err.contains("too long (5001 characters"), "{err}");
    assert!(err.len() < 200, "{err}");
}

#[test]
fn merge_keeps_order_and_dependencies() {
    let mut items = Vec::new();
    for i in 1..=5 {
        items.push(Item {
            id: format!("W{i:03}"),
            title: format!("T{i}"),
            objective: format!("O{i}"),
            acceptance: vec![format!("A{i}")],
            files_hint: vec![],
            depends_on: if i > 1 {
                vec![format!("W{:03}", i - 1)]
            } else {
                vec![]
            },
        });
    }
    let merged = merge_to_limit(items, 2);
    assert_eq!(ids(&merged), ["W001", "W002"]);
    assert_eq!(merged[0].title, "T1; T2; T3");
    assert_eq!(merged[1].depends_on, ["W001"]);
    assert_eq!(merged[1].acceptance, ["A4", "A5"]);
    validate(&merged).unwrap();
}

#[test]
fn yaml_1_1_booleans_stay_text() {
    let items = extract("items:\n  - id: W001\n    title: no\n    acceptance: [y, on]\n").unwrap();
    assert_eq!(items[0].title, "no");
    assert_eq!(items[0].acceptance, ["y", "on"]);
}

#[test]
fn topo_order_runs_dependencies_first() {
    let items = extract("items:\n  - id: W001\n    title: A\n    acceptance: [x]\n    depends_on: [W002]\n  - id: W002\n    title: B\n    acceptance: [y]\n").unwrap();
    assert_eq!(topo_order(&items).unwrap(), [1, 0]);
}
