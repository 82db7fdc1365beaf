//! Pipeline definitions: YAML lists of stages. The built-in ones are compiled in; users add
//! theirs in `.orx/pipelines/*.yaml`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The stages an engine knows.
pub const KNOWN_STAGES: [&str; 7] = [
    "plan",
    "spec",
    "decompose",
    "implement",
    "review",
    "ship",
    "knowledge_update",
];

const BUILTIN: [(&str, &str); 3] = [
    ("standard", include_str!("builtin/standard.yaml")),
    ("fast_fix", include_str!("builtin/fast_fix.yaml")),
    ("plan_only", include_str!("builtin/plan_only.yaml")),
];

/// A pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineDef {
    /// Its id.
    pub id: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Stage names, in order.
    pub stages: Vec<String>,
}

impl PipelineDef {
    /// Parses and validates a pipeline; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let def: PipelineDef = serde_saphyr::from_str(text).map_err(|e| {
            let loc = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            let msg = e.to_string();
            let msg = msg
                .rfind(" at line ")
                .map_or(msg.as_str(), |i| &msg[..i])
                .to_string();
            Error::run(
                format!("{origin}{loc}: {msg}"),
                "fix the pipeline file (see `orx pipelines show standard`)",
            )
        })?;
        if def.stages.is_empty() {
            return Err(Error::run(
                format!("{origin}: the pipeline has no stages"),
                "list at least one stage",
            ));
        }
        for s in &def.stages {
            if !KNOWN_STAGES.contains(&s.as_str()) {
                let near = crate::config::load_nearest(s, &KNOWN_STAGES);
                return Err(Error::run(
                    format!(
                        "{origin}: unknown stage `{s}`{}",
                        near.map(|n| format!("; did you mean `{n}`?"))
                            .unwrap_or_default()
                    ),
                    format!("known stages: {}", KNOWN_STAGES.join(", ")),
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &def.stages {
            if !seen.insert(s) {
                return Err(Error::run(
                    format!("{origin}: stage `{s}` is listed twice"),
                    "list each stage once",
                ));
            }
        }
        Ok(def)
    }

    /// The pipeline as YAML.
    pub fn to_yaml(&self) -> Result<String> {
        serde_saphyr::to_string(self).map_err(|e| Error::Io(std::io::Error::other(e)))
    }

    /// The built-in pipelines.
    pub fn builtins() -> Vec<PipelineDef> {
        BUILTIN
            .iter()
            .filter_map(|(n, t)| Self::parse(t, n).ok())
            .collect()
    }

    /// Finds a pipeline by id (built-in or `.orx/pipelines/<id>.yaml`) or by file path.
    pub fn find(repo: &Path, id_or_file: &str) -> Result<Self> {
        let as_path = Path::new(id_or_file);
        if id_or_file.ends_with(".yaml") || id_or_file.ends_with(".yml") || id_or_file.contains('/')
        {
            let text = fs_err::read_to_string(as_path)?;
            return Self::parse(&text, id_or_file);
        }
        for dir_ext in ["yaml", "yml"] {
            let p = repo
                .join(".orx")
                .join("pipelines")
                .join(format!("{id_or_file}.{dir_ext}"));
            if p.is_file() {
                return Self::parse(&fs_err::read_to_string(&p)?, &p.display().to_string());
            }
        }
        if let Some((_, t)) = BUILTIN.iter().find(|(n, _)| *n == id_or_file) {
            return Self::parse(t, id_or_file);
        }
        Err(Error::run(
            format!("no pipeline `{id_or_file}`"),
            "built-in pipelines: standard, fast_fix, plan_only; or give a .yaml file",
        ))
    }
}
