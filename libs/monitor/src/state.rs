//! The files a container's state directory holds and how they are written: the runtime
//! writes `berth.json` (what to run; [`MonitorConfig`] is the monitor's part of it) and
//! `config.json` (the OCI spec); the monitor writes `monitor.pid`, `state.json`
//! (created/running, pids, times) and, when the container has exited, `exit.json`. This
//! module never decides anything; it only names and moves data.
//!
//! Every write is a temporary file renamed into place, so a reader never sees half a
//! document, also when the writer is killed. Whether the file is also fsynced is the
//! caller's choice ([`Sync`]): the runtime syncs what it needs to recreate a container
//! after a host crash; the monitor does not sync what it writes about its live processes
//! (runc and conmon do not either), because a host crash ends those processes anyway, and
//! each sync is a journal commit on the path of every `docker run` (about 0.5 ms each,
//! five of them per container). Readers of those files must therefore take an empty or
//! cut-short one, which a host crash can leave, for an absent one: [`read_json_lenient`].

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

/// File names inside a container's state directory.
pub mod files {
    /// the OCI runtime spec (the directory is the OCI bundle)
    pub const SPEC: &str = "config.json";
    /// the runtime's description of the container; [`super::MonitorConfig`] is the
    /// monitor's part of it
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

/// What the monitor needs to know about its container: the monitor's part of
/// `berth.json` (the runtime adds the full configuration beside it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// container id
    pub id: String,
    /// where the json-file log goes
    pub log_path: PathBuf,
    /// `max-size` in bytes; 0 means never rotate
    #[serde(default)]
    pub log_max_size: u64,
    /// `max-file`, the live file included
    #[serde(default = "one")]
    pub log_max_file: u32,
    /// the container has a terminal
    #[serde(default)]
    pub tty: bool,
    /// the container's stdin is kept open (`-i`)
    #[serde(default)]
    pub open_stdin: bool,
    /// the cgroup file whose `oom_kill` counter says whether the OOM killer struck
    /// (`memory.oom_control` on v1, `memory.events` on v2); none without a memory cgroup
    #[serde(default)]
    pub oom_counter: Option<PathBuf>,
    /// the `berth-spawn` executable that creates, starts and execs through libcontainer
    #[serde(default)]
    pub spawn: PathBuf,
}

fn one() -> u32 {
    1
}

/// Whether a write waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// fsync before the rename: the file must survive a host crash
    Durable,
    /// rename only: the file describes processes a host crash ends anyway
    Volatile,
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
    /// Why the container ended other than by itself (Docker's State.Error), e.g. its
    /// monitor died and the runtime killed it; absent when it simply exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, renamed), synced
/// first when `sync` says so.
pub fn write_atomic(path: &Path, bytes: &[u8], sync: Sync) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    // 0600: specs hold containers' environments (passwords), for root's eyes only.
    let mut f = std::os::unix::fs::OpenOptionsExt::mode(
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
        0o600,
    )
    .open(&tmp)
    .ctx(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .ctx(|| format!("writing {}", tmp.display()))?;
    if sync == Sync::Durable {
        f.sync_all().ctx(|| format!("syncing {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).ctx(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Writes a JSON document atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T, sync: Sync) -> Result<()> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| Error::json(format!("encoding {}", path.display()), e))?;
    write_atomic(path, &bytes, sync)
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

/// Reads a document the monitor writes without syncing ([`Sync::Volatile`]): an empty or
/// cut-short file, which only a host crash leaves, reads as absent.
pub fn read_json_lenient<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match read_json(path) {
        Err(Error::Json { .. }) => Ok(None),
        other => other,
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
            error: None,
        };
        write_json(&p, &rec, Sync::Volatile).unwrap();
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
    fn a_document_cut_short_reads_as_absent_only_when_lenient() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        std::fs::write(&p, b"{\"status\":\"runn").unwrap();
        assert!(read_json::<ExitRecord>(&p).is_err());
        assert_eq!(read_json_lenient::<ExitRecord>(&p).unwrap(), None);
        std::fs::write(&p, b"").unwrap();
        assert_eq!(read_json_lenient::<ExitRecord>(&p).unwrap(), None);
    }

    #[test]
    fn own_process_is_alive() {
        let me = std::process::id() as i32;
        let start = process_start_time(me).unwrap();
        assert!(process_alive(me, start));
        assert!(!process_alive(me, start + 1));
    }
}
