//! A comment on lines of a change: from a pull request's review threads (`orx followup
//! --pr-comments`) or written on the dashboard's Diff tab, for a follow-up run to address.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A comment on a file's lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReviewComment {
    /// The file, relative to the repository.
    pub path: String,
    /// The first line commented on (1-based), when the comment is on lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_line: Option<u64>,
    /// The last line commented on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// What the reviewer wrote.
    pub body: String,
    /// Who wrote it.
    #[serde(default)]
    pub author: String,
}

impl ReviewComment {
    /// `path:12` or `path:12-15`, or the path alone.
    pub fn location(&self) -> String {
        match (self.start_line, self.line) {
            (Some(a), Some(b)) if a < b => format!("{}:{a}-{b}", self.path),
            (_, Some(l)) | (Some(l), None) => format!("{}:{l}", self.path),
            _ => self.path.clone(),
        }
    }
}
