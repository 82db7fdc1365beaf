//! The backlog: its schema and validation (ids, dependencies, cycles, acceptance), extraction
//! from agent text ([`extract`]), merging above the item limit, dependency order, and the run's
//! own backlog (`context/backlog.yaml` and the items of the checkpoint, [`run`]).

mod extract;
pub mod run;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use extract::extract;

/// One work item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// W001, W002, …
    pub id: String,
    /// Short title.
    pub title: String,
    /// What it achieves.
    #[serde(default)]
    pub objective: String,
    /// Checkable criteria (at least one).
    #[serde(default)]
    pub acceptance: Vec<String>,
    /// Files likely involved.
    #[serde(default)]
    pub files_hint: Vec<String>,
    /// Items that must pass first.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// backlog.yaml.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    /// The run.
    #[serde(default)]
    pub run_id: String,
    /// Items.
    pub items: Vec<Item>,
}

pub use crate::error::BacklogError;

pub use crate::protocol::{MAX_ITEM_ID_LEN, is_item_id};

/// Why `id` is not an item id.
fn id_problem(id: &str) -> BacklogError {
    let shown: String = id.chars().take(16).collect();
    let shown = if shown.len() < id.len() {
        format!("{shown}…")
    } else {
        shown
    };
    if id.len() > MAX_ITEM_ID_LEN {
        BacklogError::IdTooLong {
            shown,
            chars: id.chars().count(),
        }
    } else {
        BacklogError::BadId { shown }
    }
}

/// Checks ids (well formed, unique), dependencies (known, no cycles) and acceptance.
pub fn validate(items: &[Item]) -> Result<(), BacklogError> {
    let mut ids = BTreeSet::new();
    for it in items {
        if !is_item_id(&it.id) {
            return Err(id_problem(&it.id));
        }
        if !ids.insert(it.id.as_str()) {
            return Err(BacklogError::DuplicateId(it.id.clone()));
        }
        if it.acceptance.iter().all(|a| a.trim().is_empty()) {
            return Err(BacklogError::NoAcceptance(it.id.clone()));
        }
    }
    for it in items {
        for d in &it.depends_on {
            if !ids.contains(d.as_str()) {
                return Err(BacklogError::UnknownDependency {
                    item: it.id.clone(),
                    dependency: d.clone(),
                });
            }
            if d == &it.id {
                return Err(BacklogError::SelfDependency(it.id.clone()));
            }
        }
    }
    topo_order(items).map(|_| ())
}

/// Items in dependency order (stable by position); an error names a cycle.
pub fn topo_order(items: &[Item]) -> Result<Vec<usize>, BacklogError> {
    let index: BTreeMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i))
        .collect();
    let mut state = vec![0u8; items.len()]; // 0 new, 1 visiting, 2 done
    let mut order = Vec::with_capacity(items.len());
    fn visit(
        i: usize,
        items: &[Item],
        index: &BTreeMap<&str, usize>,
        state: &mut [u8],
        order: &mut Vec<usize>,
        path: &mut Vec<String>,
    ) -> Result<(), BacklogError> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                path.push(items[i].id.clone());
                return Err(BacklogError::Cycle(path.clone()));
            }
            _ => {}
        }
        state[i] = 1;
        path.push(items[i].id.clone());
        for d in &items[i].depends_on {
            if let Some(&j) = index.get(d.as_str()) {
                visit(j, items, index, state, order, path)?;
            }
        }
        path.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..items.len() {
        visit(i, items, &index, &mut state, &mut order, &mut Vec::new())?;
    }
    Ok(order)
}

/// Merges neighbours (in dependency order) so at most `max` items remain; ids are renumbered.
pub fn merge_to_limit(items: Vec<Item>, max: usize) -> Vec<Item> {
    if items.len() <= max || max == 0 {
        return items;
    }
    let order = topo_order(&items).unwrap_or_else(|_| (0..items.len()).collect());
    let per = items.len().div_ceil(max);
    let mut group_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: Vec<Vec<&Item>> = Vec::new();
    for (pos, &i) in order.iter().enumerate() {
        let g = pos / per;
        if groups.len() <= g {
            groups.push(Vec::new());
        }
        groups[g].push(&items[i]);
        group_of.insert(items[i].id.clone(), g);
    }
    groups
        .iter()
        .enumerate()
        .map(|(g, members)| {
            let mut deps: BTreeSet<usize> = BTreeSet::new();
            for m in members {
                for d in &m.depends_on {
                    if let Some(&dg) = group_of.get(d)
                        && dg != g
                    {
                        deps.insert(dg);
                    }
                }
            }
            let mut files: Vec<String> = Vec::new();
            for m in members {
                for f in &m.files_hint {
                    if !files.contains(f) {
                        files.push(f.clone());
                    }
                }
            }
            Item {
                id: format!("W{:03}", g + 1),
                title: members
                    .iter()
                    .map(|m| m.title.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                objective: members
                    .iter()
                    .map(|m| m.objective.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                acceptance: members.iter().flat_map(|m| m.acceptance.clone()).collect(),
                files_hint: files,
                depends_on: deps.into_iter().map(|d| format!("W{:03}", d + 1)).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
