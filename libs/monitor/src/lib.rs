//! berth-monitor: the small process that supervises one container for its whole life
//! (conmon's job, without tokio): it owns the container's stdio, writes the json-file log,
//! serves `monitor.sock` (start, signal, resize, attach, wait, exec), reaps, and records
//! the exit (code and OOM kill) in `exit.json`. It outlives the runner: a restarted runner
//! finds every container again through its monitor.
//!
//! # Why two executables
//!
//! One monitor runs per container, idle almost all the time, so its memory is berth's
//! per-container cost. Creating a container needs libcontainer (and with it oci-spec,
//! libseccomp and procfs); linked into the monitor, their relocated vtables alone were
//! 360 KiB of private memory in every monitor for the container's whole life. So the
//! monitor never links libcontainer: it runs `berth-spawn` (berth-runtime's helper) to
//! create the container, keeps that helper waiting until `start`, and runs it again for
//! each `docker exec`. As a child subreaper it inherits the processes berth-spawn leaves
//! behind when it exits, and reaps them like its own. This is conmon and runc's split,
//! with the same reasons.
//!
//! - [`protocol`]: the control protocol clients speak on `monitor.sock`.
//! - [`state`]: the state directory's files and how they are written.
//! - [`json_log`]: Docker's json-file log format.
//! - [`spawn`]: how the monitor talks to `berth-spawn`.
//!
//! Must never: start threads, block on a client (a slow attach client is dropped, never
//! waited for), or hold more than small fixed buffers per connection.

mod console;
mod daemon;
pub mod error;
pub mod json_log;
pub mod protocol;
mod residency;
pub mod spawn;
pub mod state;
mod supervisor;

pub use daemon::main;
pub use error::{Error, Result};
pub use json_log::{JsonFileLog, Stream, encode_entry};
pub use state::{ContainerRecord, ExitRecord, MonitorConfig, RecordedStatus};

/// How many times the kernel's OOM killer struck in the cgroup whose counter file is
/// `file` (`memory.oom_control` on v1, `memory.events` on v2); 0 when it cannot be read.
pub fn oom_kill_count(file: &std::path::Path) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn oom_kill_counters_of_both_versions_parse() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = dir.path().join("memory.oom_control");
        std::fs::write(&v1, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        assert_eq!(super::oom_kill_count(&v1), 2);
        let v2 = dir.path().join("memory.events");
        std::fs::write(&v2, "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n").unwrap();
        assert_eq!(super::oom_kill_count(&v2), 1);
        assert_eq!(super::oom_kill_count(&dir.path().join("none")), 0);
    }
}
