//! Reads a container's usage from its cgroup, on v1 and v2: memory usage and limit, CPU
//! time, pids, OOM kills and the freezer state. Read-only: this module never writes a
//! cgroup file.

use serde::{Deserialize, Serialize};

use super::{CgroupDirs, CgroupVersion};
use crate::error::Result;

/// One sample of a container's usage, in the units Docker's stats use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupStats {
    /// bytes of memory in use (page cache included, as the kernel counts it)
    pub memory_usage: u64,
    /// the memory limit in bytes; `None` when unlimited
    pub memory_limit: Option<u64>,
    /// CPU time used, nanoseconds
    pub cpu_usage_ns: u64,
    /// processes and threads in the container
    pub pids_current: u64,
    /// the pids limit; `None` when unlimited
    pub pids_limit: Option<u64>,
}

/// "max" or a number too large to be a real limit -> None.
fn limit(text: &str) -> Option<u64> {
    match text.parse::<u64>() {
        // v1 reports "unlimited" as a page-rounded i64::MAX.
        Ok(n) if n < (1 << 62) => Some(n),
        _ => None,
    }
}

fn number(text: &str) -> u64 {
    text.parse().unwrap_or(0)
}

/// A `key value` line of a flat-keyed file such as cpu.stat or memory.events.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

impl CgroupStats {
    /// Samples the cgroup at `dirs`.
    pub fn read(dirs: &CgroupDirs) -> Result<Self> {
        Ok(match dirs.version {
            CgroupVersion::V1 => CgroupStats {
                memory_usage: number(&dirs.read("memory", "memory.usage_in_bytes")?),
                memory_limit: limit(&dirs.read("memory", "memory.limit_in_bytes")?),
                cpu_usage_ns: number(&dirs.read("cpuacct", "cpuacct.usage").unwrap_or_default()),
                pids_current: number(&dirs.read("pids", "pids.current").unwrap_or_default()),
                pids_limit: limit(&dirs.read("pids", "pids.max").unwrap_or_default()),
            },
            // A v2 host may leave the memory controller off (or bound to v1, on hybrid
            // hosts): Docker then shows no memory figures rather than no stats.
            CgroupVersion::V2 => CgroupStats {
                memory_usage: number(&dirs.read("", "memory.current").unwrap_or_default()),
                memory_limit: limit(&dirs.read("", "memory.max").unwrap_or_default()),
                cpu_usage_ns: keyed(&dirs.read("", "cpu.stat")?, "usage_usec").unwrap_or(0) * 1000,
                pids_current: number(&dirs.read("", "pids.current").unwrap_or_default()),
                pids_limit: limit(&dirs.read("", "pids.max").unwrap_or_default()),
            },
        })
    }
}

/// The file whose `oom_kill` line counts the OOM killer's kills in this cgroup (`None`
/// without a memory controller).
pub fn oom_counter(dirs: &CgroupDirs) -> Option<std::path::PathBuf> {
    match dirs.version {
        CgroupVersion::V1 => dirs.dir("memory").map(|d| d.join("memory.oom_control")),
        CgroupVersion::V2 => dirs.dir("").map(|d| d.join("memory.events")),
    }
}

/// How many times the kernel's OOM killer killed a process of this cgroup (0 when the
/// counter is unavailable).
pub fn oom_kill_count(dirs: &CgroupDirs) -> u64 {
    oom_counter(dirs).map_or(0, |f| berth_monitor::oom_kill_count(&f))
}

/// Whether the cgroup is frozen (paused).
pub fn is_frozen(dirs: &CgroupDirs) -> bool {
    match dirs.version {
        CgroupVersion::V1 => dirs
            .read("freezer", "freezer.state")
            .is_ok_and(|s| s == "FROZEN" || s == "FREEZING"),
        CgroupVersion::V2 => dirs.read("", "cgroup.freeze").is_ok_and(|s| s == "1"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_and_limits_parse() {
        assert_eq!(
            keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", "oom_kill"),
            Some(2)
        );
        assert_eq!(
            keyed("usage_usec 1500\nuser_usec 1000\n", "usage_usec"),
            Some(1500)
        );
        assert_eq!(limit("max"), None);
        assert_eq!(limit("9223372036854771712"), None);
        assert_eq!(limit("209715200"), Some(209_715_200));
    }
}
