//! The one atomic-write helper and small file utilities every crash-safe write goes through.

use std::io::Write;
use std::path::Path;

use crate::Result;

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, renamed over the
/// old one. A killed process at any instant leaves either the old or the new content, never a
/// torn file. Not flushed to the disk: see [`durable_write`] for the checkpoint.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_renamed(path, bytes, false)
}

/// [`atomic_write`], and the content is flushed (fsync) before the rename: for the files a
/// resume trusts (state.json, meta.json). Artifacts, prompts and logs are not flushed one by
/// one, as git does not flush its loose objects: on a journaling file system that orders data
/// (ext4's default), the checkpoint's flush carries them.
pub fn durable_write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_renamed(path, bytes, true)
}

fn write_renamed(path: &Path, bytes: &[u8], flush: bool) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs_err::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".orx-tmp-")
        .tempfile_in(dir)
        .map_err(|e| with_path(e, dir))?;
    tmp.write_all(bytes).map_err(|e| with_path(e, path))?;
    if flush {
        tmp.as_file().sync_all().map_err(|e| with_path(e, path))?;
    }
    tmp.persist(path).map_err(|e| with_path(e.error, path))?;
    Ok(())
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn atomic_write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    atomic_write(path, &pretty_json(value)?)
}

/// Serialises `value` as pretty JSON and writes it atomically and flushed.
pub fn durable_write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    durable_write(path, &pretty_json(value)?)
}

fn pretty_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    text.push(b'\n');
    Ok(text)
}

/// Appends one line (a newline is added) to `path`, creating it when missing.
/// Each call is one `write` of the whole line, so concurrent readers never see half a record.
pub fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut f = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut buf = String::with_capacity(line.len() + 1);
    buf.push_str(line);
    buf.push('\n');
    f.write_all(buf.as_bytes())?;
    Ok(())
}

/// Drops a torn last line of the JSON-lines file at `path`: a writer killed (SIGKILL) in the
/// middle of a `write` that crossed a page may leave part of its line, and the next record would
/// be glued to it. Called by the next driver, under the run's lock, before it appends.
pub fn repair_jsonl_tail(path: &Path) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match fs_err::OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    // Look back in blocks for the last newline; a record is far smaller than the limit.
    let mut end = len;
    let mut block = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let n = (end - start) as usize;
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut block[..n])?;
        if end == len && block[n - 1] == b'\n' {
            return Ok(());
        }
        if let Some(i) = block[..n].iter().rposition(|b| *b == b'\n') {
            f.set_len(start + i as u64 + 1)?;
            return Ok(());
        }
        end = start;
    }
    f.set_len(0)?;
    Ok(())
}

/// Calls `each` with every whole line of `path` from byte `offset` (without its newline) and
/// returns the offset after the last whole one: a line being written is read next time. A file
/// that does not exist yet has no lines.
pub fn whole_lines_from(path: &Path, offset: u64, mut each: impl FnMut(&str)) -> Result<u64> {
    use std::io::{BufRead, Seek};
    let Ok(mut f) = std::fs::File::open(path) else {
        return Ok(offset);
    };
    f.seek(std::io::SeekFrom::Start(offset))?;
    let mut reader = std::io::BufReader::new(f);
    let mut pos = offset;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            return Ok(pos);
        }
        pos += n as u64;
        each(line.trim_end_matches(['\n', '\r']));
    }
}

/// Appends `value` as one JSON line.
pub fn append_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let line = serde_json::to_string(value).map_err(std::io::Error::other)?;
    append_line(path, &line)
}

/// Reads a JSON file orx wrote, naming the file when it is corrupt.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs_err::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| crate::Error::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn with_path(e: std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{e} (writing {})", path.display()))
}

/// The last `max_lines` lines of `text`.
pub fn tail_lines(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    lines[start..].join("\n")
}

/// Truncates `text` to at most `max` bytes on a char boundary, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n… [truncated {} bytes]", &text[..end], text.len() - end)
}

/// The first `max` bytes of the file at `path` as text (lossy UTF-8), and the file's size.
pub fn read_head(path: &Path, max: usize) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let f = fs_err::File::open(path)?;
    let size = f.metadata()?.len();
    let mut buf = Vec::new();
    f.take(max as u64).read_to_end(&mut buf)?;
    Ok((String::from_utf8_lossy(&buf).into_owned(), size))
}

/// The most bytes orx reads of a file a person writes for it (orx.yaml, a pipeline, a prompt
/// template, a scenario): far above any real one, far below what would cost memory to parse.
pub const MAX_INPUT_FILE: u64 = 1 << 20;

/// Reads the text file at `path` if it is at most `max` bytes; a larger one is an error of kind
/// `FileTooLarge` (nothing past `max` is read). Errors do not name the path: see [`read_input`].
pub fn read_text_capped(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    f.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(max + 1);
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!(
                "too large: {size} bytes, more than the {} orx reads",
                size_text(max)
            ),
        ));
    }
    String::from_utf8(buf).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is not UTF-8 text",
        )
    })
}

/// `1 MiB`, `64 KiB`, `512 bytes`.
pub fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// A file a person wrote for orx (a pipeline, a prompt template), at most [`MAX_INPUT_FILE`]
/// bytes; errors name the path.
pub fn read_input(path: &Path) -> std::io::Result<String> {
    read_text_capped(path, MAX_INPUT_FILE)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_dropped_and_whole_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("e.jsonl");
        for (before, after) in [
            ("{\"a\":1}\n{\"b\":", "{\"a\":1}\n"),
            ("{\"a\":1}\n", "{\"a\":1}\n"),
            ("{\"torn", ""),
            ("", ""),
        ] {
            std::fs::write(&p, before).unwrap();
            repair_jsonl_tail(&p).unwrap();
            assert_eq!(std::fs::read_to_string(&p).unwrap(), after, "{before:?}");
        }
        repair_jsonl_tail(&d.path().join("missing.jsonl")).unwrap();
    }
}
