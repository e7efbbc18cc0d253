//! Docker's json-file log format: one JSON object per line,
//! `{"log":"hi\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}`, lines split
//! at newlines (or at 16 KiB, as Docker's copier does), rotated by `max-size` into
//! `<log>.1`, `<log>.2`, ... keeping `max-file` files. This module writes log files only;
//! it never reads the container's streams itself.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};

/// Docker's copier buffer: a longer line is logged in pieces.
pub const MAX_LINE: usize = 16 * 1024;

/// Which stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// stdout (and a terminal's output)
    Stdout,
    /// stderr
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A json-file log being written.
#[derive(Debug)]
pub struct JsonFileLog {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_file: u32,
    pending: [Vec<u8>; 2],
}

/// Appends `s` as a JSON string the way Docker's jsonlog does (Go's encoder: HTML
/// characters and U+2028/2029 escaped, invalid UTF-8 replaced).
fn push_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// One log line as Docker writes it (newline included).
pub fn encode_entry(stream: Stream, log: &[u8], time: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(log.len() + 64);
    out.extend_from_slice(b"{\"log\":");
    push_json_string(&mut out, log);
    out.extend_from_slice(b",\"stream\":\"");
    out.extend_from_slice(stream.name().as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(time.as_bytes());
    out.extend_from_slice(b"\"}\n");
    out
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ctx(|| format!("opening log {}", path.display()))
}

impl JsonFileLog {
    /// Opens (appends to) the log at `path`. `max_size` 0 never rotates.
    pub fn open(path: &Path, max_size: u64, max_file: u32) -> Result<Self> {
        let file = open_append(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(JsonFileLog {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_file: max_file.max(1),
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Logs a chunk of a stream: every complete line becomes an entry; the rest waits for
    /// more (up to [`MAX_LINE`]).
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> Result<()> {
        let idx = stream as usize;
        let mut buf = std::mem::take(&mut self.pending[idx]);
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            let end = start + nl + 1;
            self.emit(stream, &buf[start..end])?;
            start = end;
        }
        while buf.len() - start >= MAX_LINE {
            self.emit(stream, &buf[start..start + MAX_LINE])?;
            start += MAX_LINE;
        }
        buf.drain(..start);
        buf.shrink_to(MAX_LINE.min(buf.capacity()));
        self.pending[idx] = buf;
        Ok(())
    }

    /// Logs what is left of a stream that ended without a newline.
    pub fn finish(&mut self, stream: Stream) -> Result<()> {
        let rest = std::mem::take(&mut self.pending[stream as usize]);
        if !rest.is_empty() {
            self.emit(stream, &rest)?;
        }
        Ok(())
    }

    fn emit(&mut self, stream: Stream, line: &[u8]) -> Result<()> {
        if self.max_size > 0 && self.size >= self.max_size {
            self.rotate()?;
        }
        let entry = encode_entry(stream, line, &crate::state::now_rfc3339_nano());
        self.file
            .write_all(&entry)
            .ctx(|| format!("writing log {}", self.path.display()))?;
        self.size += entry.len() as u64;
        Ok(())
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    fn rotate(&mut self) -> Result<()> {
        if self.max_file <= 1 {
            self.file
                .set_len(0)
                .ctx(|| format!("truncating log {}", self.path.display()))?;
        } else {
            let _ = std::fs::remove_file(self.numbered(self.max_file - 1));
            for n in (1..self.max_file - 1).rev() {
                let _ = std::fs::rename(self.numbered(n), self.numbered(n + 1));
            }
            std::fs::rename(&self.path, self.numbered(1))
                .ctx(|| format!("rotating log {}", self.path.display()))?;
            self.file = open_append(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_look_like_dockers() {
        let e = encode_entry(Stream::Stdout, b"hi <b>\n", "2024-01-02T03:04:05.1Z");
        assert_eq!(
            String::from_utf8(e).unwrap(),
            "{\"log\":\"hi \\u003cb\\u003e\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05.1Z\"}\n"
        );
        let v: serde_json::Value =
            serde_json::from_slice(&encode_entry(Stream::Stderr, b"\x01\xff\"", "t")).unwrap();
        assert_eq!(v["log"], "\u{1}\u{fffd}\"");
        assert_eq!(v["stream"], "stderr");
    }

    #[test]
    fn lines_split_and_partial_lines_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut log = JsonFileLog::open(&path, 0, 1).unwrap();
        log.write(Stream::Stdout, b"a\nb").unwrap();
        log.write(Stream::Stdout, b"c\n").unwrap();
        log.write(Stream::Stderr, b"tail").unwrap();
        log.finish(Stream::Stderr).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let logs: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["log"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(logs, vec!["a\n", "bc\n", "tail"]);
    }

    #[test]
    fn rotation_keeps_max_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut log = JsonFileLog::open(&path, 200, 3).unwrap();
        for i in 0..50 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, vec!["c.log", "c.log.1", "c.log.2"]);
        for name in &names {
            let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
            assert!(len < 200 + 100, "{name} is {len} bytes");
        }
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.contains("line 49"));
    }
}
