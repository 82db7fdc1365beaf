//! The diff tab: the run's diff (whole or one item's), split by file, highlighted, capped so a
//! diff of any size costs a bounded read; past the cap the page links the download.

use orx_core::run::Store;
use serde::Serialize;

use super::{RunData, RunQuery};
use crate::Shared;
use crate::highlight::{diff_numbered, diff_split};
use crate::view::{Markup, render, url_encode};

/// One file of a unified diff: its place in the diff's text and its counts.
#[derive(Clone, Debug, Serialize)]
pub struct DiffFile {
    /// Path (the new one).
    pub path: String,
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
    /// What git's header says of it: `new`, `deleted`, `renamed`, `binary`, or nothing.
    pub kind: Option<&'static str>,
    /// Where its part of the diff starts and ends (bytes).
    #[serde(skip)]
    pub span: std::ops::Range<usize>,
}

impl DiffFile {
    /// Its part of `diff` (the text [`split_diff`] was given).
    pub fn text<'a>(&self, diff: &'a str) -> &'a str {
        diff.get(self.span.clone()).unwrap_or("")
    }
}

/// Splits a unified diff into files with their counts (no copy of the text).
pub fn split_diff(diff: &str) -> Vec<DiffFile> {
    let mut out: Vec<DiffFile> = Vec::new();
    let mut at = 0;
    for line in diff.split_inclusive('\n') {
        let start = at;
        at += line.len();
        if line.starts_with("diff --git ") || out.is_empty() {
            let path = line
                .trim_end()
                .strip_prefix("diff --git ")
                .and_then(|r| r.split(" b/").last())
                .unwrap_or("(patch)")
                .to_string();
            out.push(DiffFile {
                path,
                added: 0,
                removed: 0,
                kind: None,
                span: start..start,
            });
        }
        let Some(f) = out.last_mut() else { continue };
        if f.added + f.removed == 0 {
            let kind = if line.starts_with("new file mode") {
                Some("new")
            } else if line.starts_with("deleted file mode") {
                Some("deleted")
            } else if line.starts_with("rename from") {
                Some("renamed")
            } else if line.starts_with("Binary files") {
                Some("binary")
            } else {
                None
            };
            f.kind = kind.or(f.kind);
        }
        if line.starts_with('+') && !line.starts_with("+++") {
            f.added += 1;
        } else if line.starts_with('-') && !line.starts_with("---") {
            f.removed += 1;
        }
        f.span.end = at;
    }
    out
}

#[derive(Serialize)]
struct DiffView<'a> {
    id: &'a str,
    item: Option<String>,
    items: Vec<&'a str>,
    files: Vec<FileView>,
    added: usize,
    removed: usize,
    error: Option<String>,
    download: String,
    /// The whole diff's size when only its beginning is shown.
    cut: Option<String>,
    /// The run ended: comments on its lines can go to a follow-up.
    can_follow: bool,
    /// Side by side, else unified.
    split: bool,
    /// The addresses of the view in each layout: (page, tab fragment).
    unified_url: (String, String),
    split_url: (String, String),
    /// For an item: what each fix attempt changed, beside the evidence it was given.
    fixes: Vec<FixView>,
}

/// What fix attempt `attempt` changed over the attempt before, and why it was asked to.
#[derive(Serialize)]
struct FixView {
    attempt: u32,
    added: usize,
    removed: usize,
    body: Markup,
    /// The evidence of the failure the fix was given (from its prompt).
    evidence: Option<String>,
    prompt_url: String,
}

/// The section of a fix prompt holding the failure's evidence.
fn evidence_of(prompt: &str) -> Option<String> {
    let (_, rest) = prompt.split_once("# Evidence of the failure")?;
    let end = rest.find("\n# ").unwrap_or(rest.len());
    Some(rest[..end].trim().to_string()).filter(|e| !e.is_empty())
}

/// The fixes of `item` kept by the run (`<item>.fix<n>.diff`), in order.
fn fixes(dir: &orx_core::run::RunDir, id: &str, item: &str) -> Vec<FixView> {
    (2..=50)
        .filter_map(|n| {
            let path = dir.artifact(&format!("{item}.fix{n}.diff"));
            let (text, _) =
                crate::files::read_from(&path, 0, super::DIFF_FILE_SHOWN as u64).ok()?;
            let text = crate::redact(&text);
            let parts = split_diff(&text);
            let prompt = format!("prompts/fix_{item}_{n}.md");
            let evidence = std::fs::read_to_string(dir.root().join(&prompt))
                .ok()
                .and_then(|p| evidence_of(&p))
                .map(|e| crate::redact(&e));
            Some(FixView {
                attempt: n,
                added: parts.iter().map(|f| f.added).sum(),
                removed: parts.iter().map(|f| f.removed).sum(),
                body: Markup(diff_numbered(&text)),
                evidence,
                prompt_url: format!(
                    "/runs/{}?tab=artifacts&path={}",
                    url_encode(id),
                    url_encode(&prompt)
                ),
            })
        })
        .collect()
}

/// One file's part of the diff: highlighted, or its size when too large to show.
#[derive(Serialize)]
struct FileView {
    path: String,
    added: usize,
    removed: usize,
    kind: Option<&'static str>,
    /// Shown open: a file with many changed lines starts collapsed.
    open: bool,
    /// The diff was cut inside this file (the last one shown).
    cut: bool,
    too_large: Option<String>,
    body: Option<Markup>,
}

/// The diff tab of `run`, for `q.item` or the whole run.
pub(super) fn html(state: &Shared, run: &RunData, q: &RunQuery) -> String {
    let id = &run.summary.run_id;
    let dir = state.index.dir(id);
    let item = q.item.clone().filter(|i| !i.is_empty());
    // A diff of any size costs at most this much to read and show: past it, and for a file
    // whose part alone is too large, the page links the download instead.
    let (text, total, cut, error) =
        match Store::diff_capped(&dir, item.as_deref(), super::DIFF_SHOWN) {
            Ok((t, total)) => {
                let cut = total > t.len() as u64;
                let t = match crate::redact_cow(&t) {
                    std::borrow::Cow::Owned(r) => r,
                    std::borrow::Cow::Borrowed(_) => t,
                };
                (t, total, cut, None)
            }
            Err(e) => (String::new(), 0, false, Some(e.to_string())),
        };
    let parts = split_diff(&text);
    let last = parts.len().saturating_sub(1);
    let split = q.view.as_deref() == Some("split");
    let files = parts
        .iter()
        .enumerate()
        .map(|(i, f)| file_view(f, &text, cut && i == last, split))
        .collect();
    let layout = |view: Option<&str>| {
        let q = super::RunQuery {
            view: view.map(String::from),
            ..q.clone()
        };
        (
            super::view_url(id, super::Tab::Diff, &q),
            format!(
                "/runs/{}/tab/diff?{}",
                url_encode(id),
                super::view_url(id, super::Tab::Diff, &q)
                    .split_once('?')
                    .map_or("", |(_, query)| query)
            ),
        )
    };
    let download = format!(
        "/runs/{}/diff.patch{}",
        url_encode(id),
        item.as_deref()
            .map(|i| format!("?item={}", url_encode(i)))
            .unwrap_or_default()
    );
    let items = run
        .state
        .as_ref()
        .map(|s| {
            s.items
                .iter()
                .filter(|i| dir.artifact(&format!("{}.diff", i.id)).exists())
                .map(|i| i.id.as_str())
                .collect()
        })
        .unwrap_or_default();
    let fix_views = item
        .as_deref()
        .map(|i| fixes(&dir, id, i))
        .unwrap_or_default();
    let view = DiffView {
        id,
        item,
        items,
        files,
        added: parts.iter().map(|f| f.added).sum(),
        removed: parts.iter().map(|f| f.removed).sum(),
        error,
        download,
        cut: cut.then(|| orx_core::fsutil::size_text(total)),
        split,
        unified_url: layout(None),
        split_url: layout(Some("split")),
        fixes: fix_views,
        can_follow: {
            use orx_core::protocol::Observed;
            let st = run.summary.status;
            run.state.is_some()
                && !st.is_active()
                && !matches!(st, Observed::Waiting | Observed::Queued)
        },
    };
    render("tab_diff.html", &view)
}

/// Files with more changed lines than this start collapsed.
const OPEN_LINES: usize = 400;

fn file_view(f: &DiffFile, text: &str, cut: bool, split: bool) -> FileView {
    let part = f.text(text);
    let too_large = part.len() > super::DIFF_FILE_SHOWN;
    FileView {
        path: f.path.clone(),
        added: f.added,
        removed: f.removed,
        kind: f.kind,
        open: f.added + f.removed <= OPEN_LINES,
        cut,
        too_large: too_large.then(|| orx_core::fsutil::size_text(part.len() as u64)),
        body: (!too_large).then(|| {
            Markup(if split {
                diff_split(part)
            } else {
                diff_numbered(part)
            })
        }),
    }
}
