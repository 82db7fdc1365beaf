//! The one writer of a run folder: every byte orx writes there for people (the checkpoint,
//! meta.json, context, prompts, artifacts, metrics, events) is redacted here, once.
//!
//! What the run itself needs back unredacted (the task, and what earlier stages produced for
//! later prompts) is kept beside, in `private/` (mode 0700, files 0600), which neither the
//! dashboard nor `orx logs` shows. Reading an input prefers that copy, so a task that merely
//! looks like a secret, or holds one, reaches the agents whole after a resume too.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Meta, RunDir, RunState};
use crate::Result;
use crate::redact::Redactor;

/// The run folder's writer: a [`RunDir`] and the run's [`Redactor`].
#[derive(Clone, Debug)]
pub struct RunFiles {
    dir: RunDir,
    redactor: Redactor,
}

impl RunFiles {
    /// The writer of `dir`, masking `redactor`'s secrets.
    pub fn new(dir: RunDir, redactor: Redactor) -> Self {
        Self { dir, redactor }
    }

    /// The run folder.
    pub fn dir(&self) -> &RunDir {
        &self.dir
    }

    /// The redactor (for child processes' logs, which the process layer writes line by line).
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// `text`, redacted.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// `value` with every string in it redacted.
    pub fn redacted<T: Serialize + DeserializeOwned>(&self, value: &T) -> Result<T> {
        let v = serde_json::to_value(value).map_err(std::io::Error::other)?;
        serde_json::from_value(self.redactor.redact_json(v))
            .map_err(|e| std::io::Error::other(e).into())
    }

    fn json_value<T: Serialize>(&self, value: &T) -> Result<serde_json::Value> {
        let v = serde_json::to_value(value).map_err(std::io::Error::other)?;
        Ok(self.redactor.redact_json(v))
    }

    /// Writes `text` (redacted) to `path` atomically.
    pub fn text(&self, path: &Path, text: &str) -> Result<()> {
        crate::fsutil::atomic_write(path, self.redact(text).as_bytes())
    }

    /// Writes `value` as JSON (every string redacted) to `path` atomically.
    pub fn json<T: Serialize>(&self, path: &Path, value: &T) -> Result<()> {
        crate::fsutil::atomic_write_json(path, &self.json_value(value)?)
    }

    /// Appends `value` as one JSON line (every string redacted).
    pub fn append_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<()> {
        crate::fsutil::append_json(path, &self.json_value(value)?)
    }

    /// Appends one line of text (redacted).
    pub fn append_line(&self, path: &Path, line: &str) -> Result<()> {
        crate::fsutil::append_line(path, &self.redact(line))
    }

    /// Writes the checkpoint: durably (work done), or atomically only (a progress mark).
    pub fn save_state(&self, state: &mut RunState, durable: bool) -> Result<()> {
        state.updated_at = super::now_rfc3339();
        let v = self.json_value(state)?;
        if durable {
            crate::fsutil::durable_write_json(&self.dir.state(), &v)
        } else {
            crate::fsutil::atomic_write_json(&self.dir.state(), &v)
        }
    }

    /// Writes meta.json durably.
    pub fn save_meta(&self, meta: &Meta) -> Result<()> {
        crate::fsutil::durable_write_json(&self.dir.meta(), &self.json_value(meta)?)
    }

    /// Saves a run input named `name` (task.md, plan.md, spec.md, backlog.yaml): the whole
    /// text in private/ for the run, the redacted text in context/ for people.
    pub fn input(&self, name: &str, text: &str) -> Result<()> {
        write_private(&self.dir.private(name), text)?;
        self.text(&self.dir.context(name), text)
    }

    /// A run input, whole: the private copy, or (a run from an older orx) the context file.
    pub fn read_input(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.private(name))
            .or_else(|_| std::fs::read_to_string(self.dir.context(name)))
            .ok()
    }

    /// Removes a run input (both copies), for `resume --from`.
    pub fn remove_input(&self, name: &str) {
        let _ = std::fs::remove_file(self.dir.private(name));
        let _ = std::fs::remove_file(self.dir.context(name));
    }
}

/// Writes `text` to `path` atomically, readable by its owner only, in a folder only its owner
/// may enter.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    }
    // tempfile creates with mode 0600.
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_stay_whole_in_private_and_redacted_in_context() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let dir = RunDir::new(t.path(), "20261130_000000_00000000");
        dir.create().unwrap();
        let files = RunFiles::new(dir.clone(), Redactor::new(["hunter2x".to_string()]));
        files.input("task.md", "use hunter2x").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.context("task.md")).unwrap(),
            "use ***"
        );
        assert_eq!(files.read_input("task.md").unwrap(), "use hunter2x");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.private("task.md")), 0o600);
        assert_eq!(mode(dir.private("task.md").parent().unwrap()), 0o700);
        // An older run has only the context copy.
        std::fs::write(dir.context("plan.md"), "the plan").unwrap();
        assert_eq!(files.read_input("plan.md").unwrap(), "the plan");
        files.remove_input("task.md");
        assert_eq!(files.read_input("task.md"), None);
    }
}
