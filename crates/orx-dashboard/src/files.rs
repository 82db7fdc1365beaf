//! Paths inside a run folder: every path a request names is confined to it.
//!
//! A request path is relative, made of plain names only (no `..`, no `.`, no root, no NUL), must
//! start in one of the run folder's own parts, and after resolving symlinks must still be inside
//! the run folder.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

/// The parts of a run folder the dashboard shows.
pub const TOP: [&str; 8] = [
    "context",
    "prompts",
    "artifacts",
    "logs",
    "metrics",
    "meta.json",
    "state.json",
    "events.jsonl",
];

/// Why a path was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PathError {
    /// Not a plain relative path inside the run folder.
    Outside(String),
    /// No such file.
    Missing(String),
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathError::Outside(p) => write!(f, "`{p}` is not a path inside the run folder"),
            PathError::Missing(p) => write!(f, "no file `{p}` in this run"),
        }
    }
}

/// Resolves `rel` inside `root`, or says why not.
pub fn confine(root: &Path, rel: &str) -> Result<PathBuf, PathError> {
    let outside = || PathError::Outside(rel.chars().take(200).collect());
    if rel.is_empty() || rel.contains('\0') || rel.contains('\\') {
        return Err(outside());
    }
    if rel
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(outside());
    }
    let mut parts = Vec::new();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(n) => parts.push(n),
            _ => return Err(outside()),
        }
    }
    let first = parts.first().and_then(|p| p.to_str()).unwrap_or("");
    if !TOP.contains(&first) {
        return Err(outside());
    }
    let joined = parts.iter().fold(root.to_path_buf(), |p, n| p.join(n));
    let real = joined
        .canonicalize()
        .map_err(|_| PathError::Missing(rel.chars().take(200).collect()))?;
    let real_root = root.canonicalize().map_err(|_| outside())?;
    if !real.starts_with(&real_root) {
        return Err(outside());
    }
    // Only regular files: reading a FIFO or a device would block a worker.
    if !real.is_file() {
        return Err(outside());
    }
    Ok(real)
}

/// One file of a run folder.
#[derive(Clone, Debug, Serialize)]
pub struct FileEntry {
    /// The path relative to the run folder, with `/`.
    pub path: String,
    /// Bytes.
    pub size: u64,
}

/// Every file under the shown parts, sorted (symlinks are skipped).
pub fn list(root: &Path) -> Vec<FileEntry> {
    let mut out = Vec::new();
    for top in TOP {
        walk(root, &root.join(top), &mut out, 0);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn walk(root: &Path, p: &Path, out: &mut Vec<FileEntry>, depth: usize) {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return;
    };
    if meta.file_type().is_symlink() || depth > 8 {
        return;
    }
    if meta.is_file() {
        if let Ok(rel) = p.strip_prefix(root) {
            out.push(FileEntry {
                path: rel.to_string_lossy().replace('\\', "/"),
                size: meta.len(),
            });
        }
        return;
    }
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            walk(root, &e.path(), out, depth + 1);
        }
    }
}

/// Reads at most `max` bytes of a text file from its start (lossy UTF-8), and whether it was cut.
pub fn read_text(path: &Path, max: u64) -> std::io::Result<(String, bool)> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut buf = Vec::new();
    f.take(max).read_to_end(&mut buf)?;
    Ok((String::from_utf8_lossy(&buf).into_owned(), len > max))
}

/// Reads from byte `offset` up to the last complete line (at most `max` bytes); returns the text
/// and the offset after it. An offset past the end (a truncated file) starts over at 0.
pub fn read_from(path: &Path, offset: u64, max: u64) -> std::io::Result<(String, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let offset = if offset > len { 0 } else { offset };
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    f.take(max).read_to_end(&mut buf)?;
    let cut = match buf.iter().rposition(|b| *b == b'\n') {
        Some(i) => i + 1,
        // One line longer than `max`: hand it over whole rather than never.
        None if buf.len() as u64 == max => buf.len(),
        None => 0,
    };
    buf.truncate(cut);
    Ok((
        String::from_utf8_lossy(&buf).into_owned(),
        offset + cut as u64,
    ))
}

/// The number of line ends in the first `upto` bytes of `path`.
pub fn count_lines(path: &Path, upto: u64) -> std::io::Result<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?.take(upto);
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        let got = f.read(&mut buf)?;
        if got == 0 {
            return Ok(n);
        }
        n += buf[..got].iter().filter(|b| **b == b'\n').count() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_inside_the_run_folder_resolve() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("run");
        std::fs::create_dir_all(root.join("logs")).unwrap();
        std::fs::write(root.join("logs/a.log"), "x").unwrap();
        std::fs::write(t.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(t.path().join("secret"), root.join("logs/out")).unwrap();
        assert!(confine(&root, "logs/a.log").is_ok());
        for bad in [
            "../secret",
            "logs/../../secret",
            "/etc/passwd",
            "logs/./a.log",
            "",
            "secret",
            "logs\\a.log",
            "logs/out",
        ] {
            assert!(
                matches!(confine(&root, bad), Err(PathError::Outside(_))),
                "{bad} resolved"
            );
        }
        assert!(matches!(
            confine(&root, "logs/none.log"),
            Err(PathError::Missing(_))
        ));
        let files = list(&root);
        assert_eq!(files.len(), 1, "the symlink is not listed: {files:?}");
    }

    #[test]
    fn reading_from_an_offset_stops_at_the_last_whole_line() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("l");
        std::fs::write(&p, "one\ntwo\nthr").unwrap();
        let (text, next) = read_from(&p, 0, 1 << 20).unwrap();
        assert_eq!((text.as_str(), next), ("one\ntwo\n", 8));
        let (text, next2) = read_from(&p, next, 1 << 20).unwrap();
        assert_eq!((text.as_str(), next2), ("", 8));
        assert_eq!(
            read_from(&p, 999, 1 << 20).unwrap().1,
            8,
            "a truncated file restarts"
        );
    }
}
