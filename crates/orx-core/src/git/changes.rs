//! What git reports about a worktree, parsed: a diff's patch, statistics and paths, and a
//! status snapshot.

/// Change statistics of a diff.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct DiffStats {
    /// Files changed.
    pub files: usize,
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
}

/// What a worktree changed against a commit, read with one `git diff`: the patch, its
/// statistics and the paths it touches (both sides of a rename).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// The binary-safe patch (`git diff --binary`).
    pub patch: String,
    /// Files changed and lines added/removed.
    pub stats: DiffStats,
    /// Every path added, modified or deleted; a rename gives both its old and its new path.
    pub paths: Vec<String>,
}

impl Changes {
    /// Splits the output of `git diff --numstat -z --patch`: NUL-terminated numstat records
    /// (`added\tremoved\tpath`, or `added\tremoved\t` then the old and the new path for a
    /// rename), an empty record, then the patch.
    pub fn parse(out: &str) -> Changes {
        let mut c = Changes::default();
        let mut rest = out;
        // No terminator at all: no changes (git prints nothing), or a cut output.
        while let Some(end) = rest.find('\0') {
            let record = &rest[..end];
            rest = &rest[end + 1..];
            if record.is_empty() {
                c.patch = rest.to_string();
                break;
            }
            let mut parts = record.splitn(3, '\t');
            let added = parts.next().and_then(|x| x.parse::<usize>().ok());
            let removed = parts.next().and_then(|x| x.parse::<usize>().ok());
            let path = parts.next().unwrap_or_default();
            c.stats.files += 1;
            c.stats.added = c.stats.added.saturating_add(added.unwrap_or(0));
            c.stats.removed = c.stats.removed.saturating_add(removed.unwrap_or(0));
            if path.is_empty() {
                // A rename or copy: the old path, then the new one.
                for _ in 0..2 {
                    let Some(end) = rest.find('\0') else { break };
                    c.paths.push(rest[..end].to_string());
                    rest = &rest[end + 1..];
                }
            } else {
                c.paths.push(path.to_string());
            }
        }
        c
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.stats.files == 0 && self.patch.trim().is_empty()
    }
}

/// HEAD and the worktree's status at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The sha of HEAD (None before the first commit).
    pub head: Option<String>,
    /// True when no file is changed or untracked.
    pub clean: bool,
    /// The whole `git status --porcelain=v2 --branch` output, compared as a whole.
    pub text: String,
}
