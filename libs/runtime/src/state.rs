//! The files a container's state directory holds and how they are written: the runtime
//! writes `berth.json` (what to run) and `config.json` (the OCI spec); the monitor writes
//! `monitor.pid`, `state.json` (created/running, pids, times) and, when the container has
//! exited, `exit.json`. Every write is a temp file, fsync, then rename, so a reader never
//! sees half a document. This module never decides anything; it only names and moves data.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::ContainerConfig;
use crate::error::{Error, IoContext, Result};

/// File names inside a container's state directory.
pub mod files {
    /// the OCI runtime spec (the directory is the OCI bundle)
    pub const SPEC: &str = "config.json";
    /// [`super::MonitorSpec`]
    pub const MONITOR_SPEC: &str = "berth.json";
    /// the monitor's pid, decimal
    pub const MONITOR_PID: &str = "monitor.pid";
    /// the monitor's control socket
    pub const MONITOR_SOCK: &str = "monitor.sock";
    /// the monitor's own diagnostics
    pub const MONITOR_LOG: &str = "monitor.log";
    /// [`super::ContainerRecord`]
    pub const STATE: &str = "state.json";
    /// [`super::ExitRecord`]
    pub const EXIT: &str = "exit.json";
    /// libcontainer's state root
    pub const LIBCONTAINER_ROOT: &str = "lc";
    /// default container log (Docker's json-file format)
    pub const LOG: &str = "container-json.log";
}

/// What the runtime hands the monitor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonitorSpec {
    /// container id
    pub id: String,
    /// the container's configuration (tty, stdin, log options)
    pub config: ContainerConfig,
    /// cgroup path (absolute from each hierarchy's root)
    pub cgroups_path: String,
    /// where the json-file log goes
    pub log_path: PathBuf,
}

/// Lifecycle status as the monitor records it (paused is read from the freezer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedStatus {
    /// the process exists and waits for start
    Created,
    /// started
    Running,
    /// exited (see exit.json)
    Exited,
}

/// `state.json`, kept by the monitor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// created, running or exited
    pub status: RecordedStatus,
    /// container init pid (host pid namespace)
    pub pid: i32,
    /// the init's start time in clock ticks since boot (guards against pid reuse)
    pub pid_start_time: u64,
    /// the monitor's pid
    pub monitor_pid: i32,
    /// RFC 3339 (nanoseconds) times
    pub created_at: String,
    /// when start was called
    pub started_at: Option<String>,
    /// the container has a terminal
    pub tty: bool,
}

/// `exit.json`, written once when the container's init has exited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Docker's exit code: the status, or 128 + signal
    pub exit_code: i32,
    /// the kernel's OOM killer killed a process of the container
    pub oom_killed: bool,
    /// RFC 3339 (nanoseconds)
    pub finished_at: String,
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).ctx(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .ctx(|| format!("writing {}", tmp.display()))?;
    f.sync_all().ctx(|| format!("syncing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Writes a JSON document atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| Error::json(format!("encoding {}", path.display()), e))?;
    write_atomic(path, &bytes)
}

/// Reads a JSON document; `Ok(None)` when the file does not exist.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::json(format!("reading {}", path.display()), e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

/// The process's start time (field 22 of /proc/PID/stat), `None` when it is gone.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses; fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// True when `pid` still runs and is the same process that started at `start_time`
/// (a zombie counts as gone).
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(close) = stat.rfind(')') else {
        return false;
    };
    let state = stat[close + 2..].chars().next();
    state != Some('Z') && state != Some('X') && process_start_time(pid) == Some(start_time)
}

/// Now, as Docker prints times: RFC 3339 with nanoseconds, trailing zeros trimmed
/// (Go's `time.RFC3339Nano`), always UTC.
pub fn now_rfc3339_nano() -> String {
    rfc3339_nano(time::OffsetDateTime::now_utc())
}

/// Formats a UTC time like Go's `time.RFC3339Nano`.
pub fn rfc3339_nano(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_look_like_go_rfc3339_nano() {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_450_000).unwrap();
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20.12345Z");
        let t = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn atomic_json_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("exit.json");
        let rec = ExitRecord {
            exit_code: 137,
            oom_killed: true,
            finished_at: now_rfc3339_nano(),
        };
        write_json(&p, &rec).unwrap();
        assert_eq!(read_json::<ExitRecord>(&p).unwrap(), Some(rec));
        assert_eq!(
            read_json::<ExitRecord>(&dir.path().join("none")).unwrap(),
            None
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn own_process_is_alive() {
        let me = std::process::id() as i32;
        let start = process_start_time(me).unwrap();
        assert!(process_alive(me, start));
        assert!(!process_alive(me, start + 1));
    }
}
