//! Reading a backlog out of an agent's answer: plain YAML, fenced, JSON-wrapped, with prose
//! around; scalars kept as written (YAML 1.1 booleans stay text), missing ids numbered.

use serde::Deserialize;

use super::{BacklogError, Item, validate};

#[derive(Deserialize)]
struct RawBacklog {
    #[serde(default)]
    items: Option<Vec<RawItem>>,
    #[serde(default)]
    backlog: Option<Box<RawBacklogOrList>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawBacklogOrList {
    List(Vec<RawItem>),
    Map(RawBacklog),
}

/// A scalar read as text whatever YAML typed it (`y`, `3`, `true` stay as written).
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// One string or a list of strings.
struct OneOrMany(Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(Scalar(s)) = seq.next_element::<Scalar>()? {
                    if !s.trim().is_empty() {
                        out.push(s);
                    }
                }
                Ok(OneOrMany(out))
            }
            fn visit_str<E>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(if v.trim().is_empty() {
                    vec![]
                } else {
                    vec![v.to_string()]
                }))
            }
            fn visit_bool<E>(self, v: bool) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_i64<E>(self, v: i64) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_u64<E>(self, v: u64) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_f64<E>(self, v: f64) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_string()]))
            }
            fn visit_unit<E>(self) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![]))
            }
        }
        d.deserialize_any(V)
    }
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        self.0
    }
}

#[derive(Deserialize)]
struct RawItem {
    #[serde(default)]
    id: Option<Scalar>,
    #[serde(default)]
    title: Option<Scalar>,
    #[serde(default)]
    objective: Option<Scalar>,
    #[serde(default, alias = "acceptance_criteria")]
    acceptance: Option<OneOrMany>,
    #[serde(default, alias = "files")]
    files_hint: Option<OneOrMany>,
    #[serde(default, alias = "dependencies")]
    depends_on: Option<OneOrMany>,
}

fn raw_items(raw: RawBacklog) -> Option<Vec<RawItem>> {
    if let Some(items) = raw.items {
        return Some(items);
    }
    match *raw.backlog? {
        RawBacklogOrList::List(l) => Some(l),
        RawBacklogOrList::Map(m) => raw_items(m),
    }
}

fn parse_yaml(text: &str) -> Option<Vec<RawItem>> {
    if let Ok(raw) = crate::yaml::from_str::<RawBacklog>(text)
        && let Some(items) = raw_items(raw)
    {
        return Some(items);
    }
    crate::yaml::from_str::<Vec<RawItem>>(text).ok()
}

/// The candidate YAML documents in an agent's answer, most likely first.
fn candidates(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Fenced blocks (```yaml, ```yml, ```json or bare ```).
    let mut rest = text;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let body = &after[body_start..];
        match body.find("```") {
            Some(end) => {
                out.push(body[..end].to_string());
                rest = &body[end + 3..];
            }
            None => {
                out.push(body.to_string());
                break;
            }
        }
    }
    // JSON-wrapped: {"result": "items: ..."} or the backlog itself as JSON.
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text.trim()) {
        out.push(v.to_string());
        if let Some(obj) = v.as_object() {
            for val in obj.values() {
                if let Some(s) = val.as_str() {
                    out.extend(candidates(s));
                }
            }
        }
    }
    out.push(text.to_string());
    // Prose around: from the first `items:` (or `- id:`) line to the first unindented prose.
    let lines: Vec<&str> = text.lines().collect();
    if let Some(start) = lines.iter().position(|l| {
        l.starts_with("items:") || l.starts_with("backlog:") || l.starts_with("- id:")
    }) {
        let mut end = lines.len();
        for (i, l) in lines.iter().enumerate().skip(start + 1) {
            let unindented = !l.starts_with([' ', '\t', '-']) && !l.trim().is_empty();
            if unindented && !l.contains(':') {
                end = i;
                break;
            }
        }
        out.push(lines[start..end].join("\n"));
    }
    out
}

/// Extracts and validates a backlog from `text`. The error says what is wrong, for the retry.
pub fn extract(text: &str) -> Result<Vec<Item>, BacklogError> {
    let mut first_error = None;
    for c in candidates(text) {
        if let Some(raw) = parse_yaml(&c) {
            if raw.is_empty() {
                first_error.get_or_insert(BacklogError::NoItems);
                continue;
            }
            match normalise(raw).and_then(|items| validate(&items).map(|()| items)) {
                Ok(items) => return Ok(items),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    Err(first_error.unwrap_or(BacklogError::NotFound))
}

fn normalise(raw: Vec<RawItem>) -> Result<Vec<Item>, BacklogError> {
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let id =
                r.id.map(|s| s.0.trim().to_string())
                    .unwrap_or_else(|| format!("W{:03}", i + 1));
            let title = r.title.map(|s| s.0.trim().to_string()).unwrap_or_default();
            if title.is_empty() {
                return Err(BacklogError::NoTitle(id));
            }
            Ok(Item {
                objective: r.objective.map(|s| s.0).unwrap_or_else(|| title.clone()),
                id,
                title,
                acceptance: r.acceptance.map(OneOrMany::into_vec).unwrap_or_default(),
                files_hint: r.files_hint.map(OneOrMany::into_vec).unwrap_or_default(),
                depends_on: r.depends_on.map(OneOrMany::into_vec).unwrap_or_default(),
            })
        })
        .collect()
}
