//! Pipeline definitions: YAML lists of stages. The built-in ones are compiled in; users add
//! theirs in `.orx/pipelines/*.yaml`.

use std::path::Path;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{PipelineError, StageOrder};
use crate::config::{Config, ExecutorKind, Ranged, Seconds, StageRoute};
use crate::{Error, Result};

/// The stages an engine knows.
pub const KNOWN_STAGES: [&str; 8] = [
    "plan",
    "spec",
    "decompose",
    "implement",
    "review",
    "ship",
    "ci",
    "knowledge_update",
];

const BUILTIN: [(&str, &str); 3] = [
    ("standard", include_str!("builtin/standard.yaml")),
    ("fast_fix", include_str!("builtin/fast_fix.yaml")),
    ("plan_only", include_str!("builtin/plan_only.yaml")),
];

/// A pipeline: its stages in order, each with optional per-stage options.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineDef {
    /// Its id.
    pub id: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Stage names, in order.
    #[serde(deserialize_with = "de_stages")]
    pub stages: Vec<String>,
    /// Per-stage options, by stage name (from the mapping form of a stage entry).
    #[serde(skip)]
    pub options: BTreeMap<String, StageOptions>,
}

/// Options of one stage in a pipeline: `- { stage: implement, max_fix_attempts: 5 }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageOptions {
    /// The stage.
    pub stage: String,
    /// Executor for the stage's agent (implement: also fix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorKind>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Reasoning effort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// Agent timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Seconds>,
    /// implement only: attempts per item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fix_attempts: Option<Ranged<1, 10>>,
    /// review only: review loops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_review_loops: Option<Ranged<0, 10>>,
}

/// A stage entry: a name, or a mapping with the name under `stage` and options.
enum Entry {
    Name(String),
    Full(StageOptions),
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Entry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a stage name or a mapping with `stage:` and options")
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Entry, E> {
                Ok(Entry::Name(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Entry, A::Error> {
                StageOptions::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Entry::Full)
            }
        }
        d.deserialize_any(V)
    }
}

thread_local! {
    static PARSED_OPTIONS: std::cell::RefCell<Vec<StageOptions>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn de_stages<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    let entries = Vec::<Entry>::deserialize(d)?;
    let mut names = Vec::with_capacity(entries.len());
    for e in entries {
        match e {
            Entry::Name(n) => names.push(n),
            Entry::Full(o) => {
                names.push(o.stage.clone());
                PARSED_OPTIONS.with(|p| p.borrow_mut().push(o));
            }
        }
    }
    Ok(names)
}

impl Serialize for PipelineDef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Out<'a> {
            Name(&'a str),
            Full(&'a StageOptions),
        }
        let stages: Vec<Out<'_>> = self
            .stages
            .iter()
            .map(|n| match self.options.get(n) {
                Some(o) => Out::Full(o),
                None => Out::Name(n),
            })
            .collect();
        let mut st = s.serialize_struct("PipelineDef", 3)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("description", &self.description)?;
        st.serialize_field("stages", &stages)?;
        st.end()
    }
}

/// A YAML error as the pipeline error it is, its location kept as data.
fn invalid(e: &serde_saphyr::Error, origin: &str) -> PipelineError {
    let location = e.location().map(|l| (l.line(), l.column()));
    let msg = e.to_string();
    let message = msg
        .rfind(" at line ")
        .map_or(msg.as_str(), |i| &msg[..i])
        .to_string();
    PipelineError::Invalid {
        origin: origin.to_string(),
        location,
        message,
    }
}

impl PipelineDef {
    /// Parses and validates a pipeline; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        PARSED_OPTIONS.with(|p| p.borrow_mut().clear());
        // The location is printed by the error itself, without the parser's own snippet.
        let mut opts = serde_saphyr::Options::default();
        opts.with_snippet = false;
        let parsed: std::result::Result<PipelineDef, _> =
            serde_saphyr::from_str_with_options(text, opts);
        let options = PARSED_OPTIONS.with(|p| std::mem::take(&mut *p.borrow_mut()));
        let mut def: PipelineDef = parsed.map_err(|e| invalid(&e, origin))?;
        for o in options {
            def.options.insert(o.stage.clone(), o);
        }
        if def.stages.is_empty() {
            return Err(PipelineError::NoStages {
                origin: origin.to_string(),
            }
            .into());
        }
        for s in &def.stages {
            if !KNOWN_STAGES.contains(&s.as_str()) {
                return Err(PipelineError::UnknownStage {
                    origin: origin.to_string(),
                    location: locate(text, s),
                    stage: s.clone(),
                    near: crate::config::load_nearest(s, &KNOWN_STAGES).map(String::from),
                }
                .into());
            }
        }
        for (stage, o) in &def.options {
            if o.max_fix_attempts.is_some() && stage != "implement" {
                return Err(PipelineError::MisplacedOption {
                    origin: origin.to_string(),
                    option: "max_fix_attempts",
                    applies_to: "implement",
                    stage: stage.clone(),
                }
                .into());
            }
            if o.max_review_loops.is_some() && stage != "review" {
                return Err(PipelineError::MisplacedOption {
                    origin: origin.to_string(),
                    option: "max_review_loops",
                    applies_to: "review",
                    stage: stage.clone(),
                }
                .into());
            }
            let agentless = stage == "ship";
            if agentless
                && (o.executor.is_some()
                    || o.model.is_some()
                    || o.reasoning_effort.is_some()
                    || o.timeout.is_some())
            {
                return Err(PipelineError::ShipHasNoAgent {
                    origin: origin.to_string(),
                }
                .into());
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &def.stages {
            if !seen.insert(s) {
                return Err(PipelineError::DuplicateStage {
                    origin: origin.to_string(),
                    stage: s.clone(),
                }
                .into());
            }
        }
        check_order(&def.stages).map_err(|(stage, order)| PipelineError::StageOrder {
            origin: origin.to_string(),
            location: locate(text, &stage),
            stage,
            order,
        })?;
        Ok(def)
    }

    /// Applies the per-stage options to `config` (routing overrides and limits).
    pub fn apply(&self, config: &mut Config) {
        for (stage, o) in &self.options {
            let roles: &[&str] = match stage.as_str() {
                "implement" => &["implement", "fix"],
                // ci's agent is the fix agent.
                "ci" => &["fix"],
                _ => &[stage.as_str()],
            };
            if o.executor.is_some()
                || o.model.is_some()
                || o.reasoning_effort.is_some()
                || o.timeout.is_some()
            {
                for role in roles {
                    if let Some(slot) = config.stages.get_mut(role) {
                        let route = slot.get_or_insert_with(StageRoute::default);
                        if o.executor.is_some() {
                            route.executor = o.executor;
                            // A new executor does not inherit another executor's model.
                            route.model = None;
                        }
                        if let Some(m) = &o.model {
                            route.model = Some(m.as_str().into());
                        }
                        if let Some(r) = &o.reasoning_effort {
                            route.reasoning_effort = Some(r.as_str().into());
                        }
                        if o.timeout.is_some() {
                            route.timeout = o.timeout;
                        }
                    }
                }
            }
            if let Some(n) = o.max_fix_attempts {
                config.run.max_fix_attempts = n;
            }
            if let Some(n) = o.max_review_loops {
                config.run.max_review_loops = n;
            }
        }
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

    /// Finds a pipeline by id (built-in, or in `.orx/pipelines/`: the file `<id>.yaml`, else
    /// the file whose `id` it is) or by file path.
    pub fn find(repo: &Path, id_or_file: &str) -> Result<Self> {
        if id_or_file.ends_with(".yaml") || id_or_file.ends_with(".yml") || id_or_file.contains('/')
        {
            return Self::load(Path::new(id_or_file));
        }
        for dir_ext in ["yaml", "yml"] {
            let p = repo
                .join(".orx")
                .join("pipelines")
                .join(format!("{id_or_file}.{dir_ext}"));
            if p.is_file() {
                return Self::load(&p);
            }
        }
        let mut broken = Vec::new();
        for (_, def) in Self::in_repo(repo) {
            match def {
                Ok(d) if d.id == id_or_file => return Ok(d),
                Ok(_) => {}
                Err(e) => broken.push(e.to_string()),
            }
        }
        if let Some((_, t)) = BUILTIN.iter().find(|(n, _)| *n == id_or_file) {
            return Self::parse(t, id_or_file);
        }
        Err(PipelineError::NotFound {
            id: id_or_file.to_string(),
            broken,
        }
        .into())
    }

    /// Reads and parses the pipeline file at `path`; a missing file is [`PipelineError::FileNotFound`].
    pub fn load(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(PipelineError::FileNotFound {
                path: path.display().to_string(),
            }
            .into());
        }
        Self::parse(
            &crate::fsutil::read_input(path)?,
            &path.display().to_string(),
        )
    }

    /// The repository's pipelines (`.orx/pipelines/*.yaml`, `*.yml`), sorted by file, each
    /// parsed or with its error.
    pub fn in_repo(repo: &Path) -> Vec<(std::path::PathBuf, Result<Self>)> {
        let dir = repo.join(".orx").join("pipelines");
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .map(|f| {
                let def = Self::load(&f);
                (f, def)
            })
            .collect()
    }
}

/// Where `stage` is listed in the pipeline's text (1-based line and column): its first
/// occurrence as a whole word after the `stages` key.
fn locate(text: &str, stage: &str) -> Option<(u64, u64)> {
    let start = text.find("stages")?;
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = start + "stages".len();
    while let Some(i) = text[from..].find(stage).map(|i| i + from) {
        let end = i + stage.len();
        let before = i == 0 || !is_word(bytes[i - 1]);
        let after = end >= bytes.len() || !is_word(bytes[end]);
        if before && after {
            let line = text[..i].matches('\n').count() as u64 + 1;
            let col = (i - text[..i].rfind('\n').map_or(0, |n| n + 1)) as u64 + 1;
            return Some((line, col));
        }
        from = end;
    }
    None
}

/// The stages are in the order the engine can run them: each comes after the stages whose
/// output it reads (the order of [`KNOWN_STAGES`]), review and ship come with an implement
/// before them, and ci with a ship. The first misplaced stage, and what is wrong with its place.
fn check_order(stages: &[String]) -> std::result::Result<(), (String, StageOrder)> {
    let rank = |s: &str| KNOWN_STAGES.iter().position(|k| *k == s);
    for (i, s) in stages.iter().enumerate() {
        if let Some(later) = stages[i + 1..].iter().find(|t| rank(t) < rank(s)) {
            return Err((s.clone(), StageOrder::After(later.clone())));
        }
        if matches!(s.as_str(), "review" | "ship") && !stages[..i].iter().any(|t| t == "implement")
        {
            return Err((s.clone(), StageOrder::Needs("implement".into())));
        }
        // ci watches the pull request ship opens.
        if s == "ci" && !stages[..i].iter().any(|t| t == "ship") {
            return Err((s.clone(), StageOrder::Needs("ship".into())));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::PipelineDef;

    /// Readers that know the built-in ids without the engine (the dashboard's form and its
    /// checks) read them from the protocol: both lists are one.
    #[test]
    fn the_protocol_names_every_builtin_pipeline_in_order() {
        let ids: Vec<String> = PipelineDef::builtins().into_iter().map(|d| d.id).collect();
        assert_eq!(ids, crate::protocol::BUILTIN_PIPELINES);
    }
}
