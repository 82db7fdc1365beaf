//! meta.json: who, what, where; written at start and updated at the end.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::RunStatus;
use crate::Result;
use crate::config::RoutingTable;

fn v1() -> u32 {
    1
}

/// Versions of the tools a run used.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct ToolVersions {
    /// orx itself.
    pub orx: String,
    /// git.
    pub git: Option<String>,
}

/// The run's description.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Meta {
    /// Format version (see [`super::PROTOCOL_VERSION`]).
    #[serde(default = "v1")]
    pub version: u32,
    /// Run id.
    pub run_id: String,
    /// The task's first line, at most 120 characters.
    pub task_summary: String,
    /// The repository root.
    pub repo: String,
    /// The base branch.
    pub base_branch: String,
    /// The base commit.
    pub base_sha: String,
    /// The run branch.
    pub branch: String,
    /// The worktree.
    pub worktree: String,
    /// The default engine.
    pub engine: String,
    /// The pipeline id.
    pub pipeline: String,
    /// The resolved routing.
    pub routing: RoutingTable,
    /// The config file, if one was used.
    pub config_file: Option<String>,
    /// Tool versions.
    pub tool_versions: ToolVersions,
    /// The pid of the process that started the run.
    pub pid: u32,
    /// Start time.
    pub started_at: String,
    /// End time.
    pub ended_at: Option<String>,
    /// Status (the same as state.json's once the run ended).
    pub status: RunStatus,
    /// The pull request, when one was opened.
    pub pr_url: Option<String>,
    /// The GitHub issue the run works on (`orx run --issue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<IssueLink>,
    /// The run this one follows up (`orx followup`): same branch and worktree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// The runs that follow this one up, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followed_by: Vec<String>,
}

/// The GitHub issue a run works on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IssueLink {
    /// Its number.
    pub number: u64,
    /// Its page.
    pub url: String,
    /// Its repository, `OWNER/NAME`.
    pub repo: String,
}

impl Meta {
    /// Loads meta.json.
    pub fn load(path: &Path) -> Result<Self> {
        crate::fsutil::read_json(path)
    }
}

/// The task's first non-empty line, shortened to `max` characters.
pub fn summarize_task(task: &str, max: usize) -> String {
    // Plain text: a Markdown heading, quote or list mark and inline emphasis are not the title.
    let plain = |l: &str| -> String {
        let l = l.trim_start_matches('#').trim_start();
        let l = ["> ", "- ", "* ", "+ "]
            .iter()
            .find_map(|m| l.strip_prefix(m))
            .unwrap_or(l);
        l.replace("**", "").replace('`', "").trim().to_string()
    };
    let first = task
        .lines()
        .map(plain)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let first = first.as_str();
    if first.chars().count() <= max {
        first.to_string()
    } else {
        let cut: String = first.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::summarize_task;

    #[test]
    fn a_task_title_is_its_first_line_as_plain_text() {
        assert_eq!(
            summarize_task("# Add a statistics module\n\nWith mean and median.", 80),
            "Add a statistics module"
        );
        assert_eq!(
            summarize_task("\n\n- **Fix** the `add` function", 80),
            "Fix the add function"
        );
        assert_eq!(summarize_task("##\n> Quote first", 80), "Quote first");
        assert_eq!(summarize_task("abcdef", 4), "abc…");
    }
}
