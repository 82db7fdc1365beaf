//! The shapes of the names a run folder uses: item ids and the built-in pipelines' ids.

/// The longest item id: `W` and six digits. Ids name files (`prompts/fix_<id>_<n>.md`), so an
/// agent's 5,000-digit id must stop at decompose, not at the first file it names.
pub const MAX_ITEM_ID_LEN: usize = 7;

/// True for ids shaped like W001 (`W`, then three to six digits).
pub fn is_item_id(id: &str) -> bool {
    id.len() >= 4
        && id.len() <= MAX_ITEM_ID_LEN
        && id.starts_with('W')
        && id[1..].chars().all(|c| c.is_ascii_digit())
}

/// The ids of the pipelines built into orx (`pipeline::PipelineDef::builtins`), in the order
/// they are listed.
pub const BUILTIN_PIPELINES: [&str; 3] = ["standard", "fast_fix", "plan_only"];
