//! The run folder's data as types: what state.json, meta.json, events.jsonl,
//! metrics/stages.jsonl and metrics/run.json hold. The CLI, the dashboard and any other reader
//! match on these enums, never on strings. The JSON keeps the shape earlier versions wrote (each
//! file has a `version`; version 1 files still load), and `docs/schema/` holds the JSON Schema of
//! each file, generated from these types (`schema_files`).

mod ci;
mod event;
mod ids;
mod meta;
mod metrics;
mod review;
mod state;
pub mod status;
mod waiting;

pub use ci::{CheckRecord, CheckState, CiState};
pub use event::{AgentCall, CiReport, Event, EventBody, GateOutcome};
pub use ids::{BUILTIN_PIPELINES, MAX_ITEM_ID_LEN, is_item_id};
pub use meta::{IssueLink, Meta, ToolVersions, summarize_task};
pub use metrics::{RunTotals, StageRecord};
pub use review::ReviewComment;
pub use state::{
    BudgetLimits, BudgetRaise, Failure, ItemState, PROTOCOL_VERSION, RunState, SessionRef,
    StageState,
};
pub use status::{
    AttemptStatus, FailureCategory, ItemPhase, ItemStatus, Observed, RunStatus, StageStatus,
    WaitReason,
};
pub use waiting::{Continue, Decision, Refusal};

/// The current time as RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// The JSON Schema of each file of a run folder: (file name in `docs/schema/`, schema text).
pub fn schema_files() -> Vec<(&'static str, String)> {
    fn text<T: schemars::JsonSchema>() -> String {
        let schema = schemars::schema_for!(T);
        let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
        s.push('\n');
        s
    }
    vec![
        ("meta.schema.json", text::<Meta>()),
        ("state.schema.json", text::<RunState>()),
        ("event.schema.json", text::<Event>()),
        ("stage-record.schema.json", text::<StageRecord>()),
        ("run-totals.schema.json", text::<RunTotals>()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_the_shape_earlier_versions_wrote() {
        let line = r#"{"ts":"2026-11-30T08:00:00Z","kind":"stage.finished","stage":"plan","message":"plan done: ok","data":{"status":"done","duration_secs":1.5}}"#;
        let e: Event = serde_json::from_str(line).unwrap();
        assert_eq!(
            e.body,
            EventBody::StageFinished {
                status: StageStatus::Done,
                duration_secs: 1.5
            }
        );
        let back: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(line).unwrap()
        );
        // A kind without data has no `data` key.
        let resumed = serde_json::to_value(Event::new(EventBody::RunResumed, "x")).unwrap();
        assert_eq!(resumed["kind"], "run.resumed");
        assert!(resumed.get("data").is_none(), "{resumed}");
        // Every kind names itself as it is written.
        let v = serde_json::to_value(Event::new(
            EventBody::AttemptFailed {
                category: FailureCategory::GateFailed,
            },
            "",
        ))
        .unwrap();
        assert_eq!(v["kind"], "attempt.failed");
        assert_eq!(v["data"]["category"], "gate_failed");
    }

    #[test]
    fn a_category_from_a_newer_orx_reads_as_other() {
        let f: FailureCategory = serde_json::from_str("\"budget_exceeded\"").unwrap();
        assert_eq!(f, FailureCategory::Other);
    }

    /// `docs/schema/` holds the schemas these types generate: a change to the types without
    /// regenerating them fails here. `ORX_UPDATE_SCHEMAS=1 cargo test -p orx-core schemas`
    /// writes them.
    #[test]
    fn the_published_schemas_match_the_types() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema");
        let update = std::env::var_os("ORX_UPDATE_SCHEMAS").is_some();
        for (name, text) in schema_files() {
            let path = dir.join(name);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == text,
                "docs/schema/{name} is stale: run `ORX_UPDATE_SCHEMAS=1 cargo test -p orx-core \
                 schemas` and commit the result"
            );
        }
    }
}
