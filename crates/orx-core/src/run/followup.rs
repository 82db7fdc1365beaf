//! A follow-up's task (SPEC §14, `orx followup`): what the person asks now, the review comments
//! to address, and what the earlier run was asked, specified and told by its review.

use super::RunDir;
use crate::protocol::ReviewComment;

/// The most of each earlier text (task, spec, review) a follow-up's task repeats.
const EARLIER_MAX: u64 = 32 * 1024;

/// The task of a follow-up of the run in `earlier`.
pub fn task(earlier: &RunDir, text: &str, comments: &[ReviewComment]) -> String {
    let read = |paths: &[std::path::PathBuf]| {
        paths
            .iter()
            .find_map(|p| crate::fsutil::read_text_capped(p, EARLIER_MAX).ok())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    };
    let mut t = format!("{}\n", text.trim());
    if !comments.is_empty() {
        t.push_str("\n## Review comments to address\n");
        for c in comments {
            let by = if c.author.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.author)
            };
            t.push_str(&format!("- `{}`{by}: {}\n", c.location(), c.body.trim()));
        }
    }
    let id = earlier.id();
    t.push_str(&format!(
        "\n## The run this follows up: {id}\nThis run continues run {id} on its branch: its \
         commits are already in the worktree. Change only what is asked above.\n"
    ));
    let earlier_task = read(&[earlier.private("task.md"), earlier.context("task.md")]);
    for (title, text) in [
        ("Its task", earlier_task),
        (
            "Its spec",
            read(&[earlier.private("spec.md"), earlier.context("spec.md")]),
        ),
        ("Its review", read(&[earlier.artifact("review.md")])),
    ] {
        if let Some(text) = text {
            t.push_str(&format!("\n### {title}\n{text}\n"));
        }
    }
    t
}
