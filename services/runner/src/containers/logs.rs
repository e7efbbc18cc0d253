//! `docker logs`: the json-file log the container's monitor writes (and the files it
//! rotated out, `<log>.1` newest ... `<log>.N` oldest), read back as entries.
//!
//! Memory stays bounded whatever the log's size: `--tail` is found by reading backwards
//! from the end in fixed chunks, and entries go out in small batches. A log is never read
//! whole.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ContainerError;
use super::spec::LogConfig;

/// How much the backwards scan for `--tail` reads at a time.
const TAIL_CHUNK: usize = 64 * 1024;
/// The longest line read back: the monitor writes at most 16 KiB of payload per entry
/// (at most 6 bytes of JSON each), so anything longer is not its output and is skipped.
const MAX_ENTRY: u64 = 128 * 1024;
/// Rotated files looked for: far above any sensible `max-file`, and a bound on a loop
/// over names.
const MAX_ROTATED: u32 = 10_000;

/// One line of Docker's json-file format.
#[derive(Debug, Deserialize)]
struct Line {
    log: String,
    stream: String,
    time: String,
}

/// What to read.
/// Which output a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line of a container's log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub stream: LogStream,
    /// When the runner read it; `None` for a line whose time does not parse.
    pub time: Option<time::OffsetDateTime>,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
pub struct LogFilter {
    pub stdout: bool,
    pub stderr: bool,
    /// Unix nanoseconds, inclusive bounds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub tail: Option<u64>,
}

fn parse_time(t: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
}

/// `<log>.n`, as the monitor names what it rotated out.
pub fn rotated_path(log: &Path, n: u32) -> PathBuf {
    let mut p = log.to_path_buf().into_os_string();
    p.push(format!(".{n}"));
    PathBuf::from(p)
}

/// Where the newest `lines` complete lines of `file` begin, reading backwards from its end;
/// also how many lines were found when the file holds fewer (then the offset is 0).
/// A last line without its newline is still being written and is not counted.
fn tail_start(file: &mut File, lines: u64) -> std::io::Result<(u64, u64)> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = vec![0u8; TAIL_CHUNK];
    // The newline that ends the last complete line counts as the first one found, so
    // `lines` lines begin after the `lines + 1`-th newline from the end.
    let mut newlines = 0u64;
    let mut seen_complete = false;
    while end > 0 {
        let start = end.saturating_sub(TAIL_CHUNK as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        for (i, b) in chunk.iter().enumerate().rev() {
            if *b != b'\n' {
                continue;
            }
            seen_complete = true;
            newlines += 1;
            if newlines == lines.saturating_add(1) {
                return Ok((start + i as u64 + 1, lines));
            }
        }
        end = start;
    }
    Ok((0, if seen_complete { newlines } else { 0 }))
}

/// A position in a container's log files that reads forward in batches, follows the
/// live file across rotations, and never holds more than one batch.
#[derive(Debug)]
pub struct LogCursor {
    live: PathBuf,
    filter: LogFilter,
    /// Files still to read after `current`, oldest first, the live file last. They are
    /// open already, so a rotation renaming them meanwhile loses nothing.
    queue: VecDeque<Current>,
    /// `None` while there is no live file yet.
    current: Option<Current>,
}

#[derive(Debug)]
struct Current {
    reader: BufReader<File>,
    /// Where the next unread line begins.
    pos: u64,
    /// Whether this is the live file, which may grow and be rotated away.
    live: bool,
    ino: u64,
}

impl LogCursor {
    /// Opens the log and what was rotated out of it, positioned for `filter.tail`.
    pub fn open(path: &Path, filter: LogFilter) -> std::io::Result<Self> {
        // Oldest first: <log>.N ... <log>.1, then <log>.
        let mut files: Vec<(File, bool)> = Vec::new();
        for n in 1..=MAX_ROTATED {
            match File::open(rotated_path(path, n)) {
                Ok(f) => files.push((f, false)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(e),
            }
        }
        files.reverse();
        match File::open(path) {
            Ok(f) => files.push((f, true)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut starts = vec![0u64; files.len()];
        let mut first = 0;
        if let Some(mut wanted) = filter.tail {
            first = files.len();
            for (i, (file, _)) in files.iter_mut().enumerate().rev() {
                let (offset, found) = tail_start(file, wanted)?;
                first = i;
                starts[i] = offset;
                if found >= wanted {
                    break;
                }
                wanted -= found;
            }
        }
        let mut queue = VecDeque::new();
        for (i, (file, live)) in files.into_iter().enumerate().skip(first) {
            queue.push_back(Current::new(file, starts[i], live)?);
        }
        Ok(LogCursor {
            live: path.to_path_buf(),
            filter,
            current: queue.pop_front(),
            queue,
        })
    }

    /// Reads up to `max` entries. An empty batch means nothing more is there for now
    /// (with `--follow`, ask again later).
    pub fn next_batch(&mut self, max: usize) -> std::io::Result<Vec<LogLine>> {
        let mut entries = Vec::new();
        let mut line = Vec::new();
        while entries.len() < max {
            let Some(cur) = self.current.as_mut() else {
                // The live file did not exist yet when the cursor opened.
                match File::open(&self.live) {
                    Ok(f) => self.current = Some(Current::new(f, 0, true)?),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) => return Err(e),
                }
                continue;
            };
            line.clear();
            let n = (&mut cur.reader)
                .take(MAX_ENTRY)
                .read_until(b'\n', &mut line)?;
            if n > 0 && line.ends_with(b"\n") {
                cur.pos += n as u64;
                if let Some(entry) = self.entry(&line) {
                    entries.push(entry);
                }
                continue;
            }
            if n as u64 == MAX_ENTRY {
                // Not a line the monitor wrote: skip to its end.
                cur.pos += n as u64;
                continue;
            }
            // The end of this file; a line still being written is read whole next time.
            cur.reader.seek(SeekFrom::Start(cur.pos))?;
            if !cur.live {
                match self.queue.pop_front() {
                    Some(next) => self.current = Some(next),
                    // Every file read and none of them live: wait for the live one.
                    None => self.current = None,
                }
                continue;
            }
            // The live file: if the monitor rotated it, go on with the new one (the old
            // one was read to its end just now).
            match std::fs::metadata(&self.live) {
                Ok(m) if m.ino() != cur.ino => {
                    let f = File::open(&self.live)?;
                    self.current = Some(Current::new(f, 0, true)?);
                }
                // With `max-file=1` the monitor truncates the file in place instead.
                Ok(m) if m.len() < cur.pos => {
                    cur.pos = 0;
                    cur.reader.seek(SeekFrom::Start(0))?;
                }
                _ => break,
            }
        }
        Ok(entries)
    }

    fn entry(&self, line: &[u8]) -> Option<LogLine> {
        let parsed = serde_json::from_slice::<Line>(line).ok()?;
        let stream = match parsed.stream.as_str() {
            "stdout" if self.filter.stdout => LogStream::Stdout,
            "stderr" if self.filter.stderr => LogStream::Stderr,
            _ => return None,
        };
        let when = parse_time(&parsed.time);
        let nanos = when
            .map(|t| t.unix_timestamp_nanos() as i64)
            .unwrap_or_default();
        if self.filter.since.is_some_and(|s| nanos < s)
            || self.filter.until.is_some_and(|u| nanos > u)
        {
            return None;
        }
        Some(LogLine {
            stream,
            time: when,
            data: parsed.log.into_bytes(),
        })
    }
}

impl Current {
    fn new(mut file: File, pos: u64, live: bool) -> std::io::Result<Self> {
        let ino = file.metadata()?.ino();
        file.seek(SeekFrom::Start(pos))?;
        Ok(Current {
            reader: BufReader::new(file),
            pos,
            live,
            ino,
        })
    }
}

impl super::Containers {
    /// [`log_config`] with the runner's `--log-opt` defaults merged in as dockerd merges
    /// its own: options the container does not set come from the daemon's.
    pub fn log_config(
        &self,
        asked: Option<&LogConfig>,
        path: &Path,
    ) -> Result<berth_runtime::LogConfig, ContainerError> {
        let merged = with_defaults(asked, &self.log_defaults);
        log_config(merged.as_ref(), path)
    }
}

/// The container's log configuration with `defaults` filled in where it is silent
/// (moby's mergeAndVerifyLogConfig; the default driver is json-file).
pub fn with_defaults(
    asked: Option<&LogConfig>,
    defaults: &std::collections::HashMap<String, String>,
) -> Option<LogConfig> {
    let mut merged = asked.cloned().unwrap_or_default();
    if matches!(merged.r#type.as_str(), "" | "json-file") {
        for (k, v) in defaults {
            merged.config.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Some(merged)
}

/// Reads `--log-opt KEY=VALUE` flags; the pairs are checked like a container's.
pub fn parse_log_opts(
    flags: &[String],
) -> Result<std::collections::HashMap<String, String>, String> {
    let mut out = std::collections::HashMap::new();
    for flag in flags {
        let (k, v) = flag.split_once('=').ok_or_else(|| {
            format!("invalid --log-opt {flag:?}: use KEY=VALUE, e.g. max-size=10m")
        })?;
        out.insert(k.to_owned(), v.to_owned());
    }
    let probe = LogConfig {
        r#type: String::new(),
        config: out.clone(),
    };
    log_config(Some(&probe), Path::new("/")).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The json-file options of a create (`--log-driver`, `--log-opt`), checked as Docker
/// checks them. Only json-file is written; another driver, or an option berth would not
/// honour, is refused rather than ignored, so nobody believes a log is bounded or
/// shipped when it is not. Without options the log grows without limit, as Docker's
/// json-file does by default.
pub fn log_config(
    asked: Option<&LogConfig>,
    path: &Path,
) -> Result<berth_runtime::LogConfig, ContainerError> {
    let bad = |m: String| ContainerError::invalid(m);
    let (driver, opts) = match asked {
        Some(c) => (c.r#type.as_str(), &c.config),
        None => ("", &Default::default()),
    };
    if !matches!(driver, "" | "json-file") {
        return Err(bad(format!(
            "log driver {driver:?} is not supported: berth writes json-file logs only; drop --log-driver"
        )));
    }
    let mut keys: Vec<&String> = opts.keys().collect();
    keys.sort();
    for key in keys {
        let value = &opts[key];
        match key.as_str() {
            "max-size" | "max-file" => {}
            // Docker's default; berth does not gzip rotated files.
            "compress" if value == "false" => {}
            "compress" => {
                return Err(bad(format!(
                    "log option compress={value} is not supported: rotated logs are not compressed; drop it or set compress=false"
                )));
            }
            _ => {
                return Err(bad(format!(
                    "unknown log opt '{key}' for json-file log driver: berth supports max-size and max-file"
                )));
            }
        }
    }
    let mut cfg = berth_runtime::LogConfig::from_docker_opts(
        opts.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|e| match e {
        berth_runtime::Error::InvalidConfig(why) => bad(format!("invalid log options: {why}")),
        e => bad(format!("invalid log options: {e}")),
    })?;
    cfg.path = Some(path.to_path_buf());
    Ok(cfg)
}

#[cfg(test)]
mod tests;
