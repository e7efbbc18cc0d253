//! `docker logs`: the json-file log the container's monitor writes, read back as entries.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use berth_proto::v1::{LogEntry, StdioStream};
use serde::Deserialize;

/// One line of Docker's json-file format.
#[derive(Debug, Deserialize)]
struct Line {
    log: String,
    stream: String,
    time: String,
}

/// What to read.
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

/// Reads the entries written so far from `offset`; returns them and the offset to read
/// on from (for `--follow`).
pub fn read_logs(
    path: &Path,
    filter: &LogFilter,
    offset: u64,
) -> std::io::Result<(Vec<LogEntry>, u64)> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(e),
    };
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut pos = offset;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            // A line still being written is read whole next time.
            break;
        }
        pos += n as u64;
        let Ok(parsed) = serde_json::from_str::<Line>(&line) else {
            continue;
        };
        let stream = match parsed.stream.as_str() {
            "stdout" if filter.stdout => StdioStream::Stdout,
            "stderr" if filter.stderr => StdioStream::Stderr,
            _ => continue,
        };
        let when = parse_time(&parsed.time);
        let nanos = when
            .map(|t| t.unix_timestamp_nanos() as i64)
            .unwrap_or_default();
        if filter.since.is_some_and(|s| nanos < s) || filter.until.is_some_and(|u| nanos > u) {
            continue;
        }
        entries.push(LogEntry {
            stream: stream as i32,
            timestamp: when.map(|t| prost_types::Timestamp {
                seconds: t.unix_timestamp(),
                nanos: t.nanosecond() as i32,
            }),
            data: parsed.log.into_bytes(),
        });
    }
    if let Some(tail) = filter.tail {
        let skip = entries.len().saturating_sub(tail as usize);
        entries.drain(..skip);
    }
    Ok((entries, pos))
}
