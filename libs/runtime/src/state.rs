//! The container state directory: its files and records are berth-monitor's
//! ([`berth_monitor::state`], re-exported here); what the runtime adds is `berth.json`,
//! [`MonitorSpec`], which the runtime writes at create and reads back to inspect, restart
//! and delete the container.

use serde::{Deserialize, Serialize};

pub use berth_monitor::state::*;

use crate::config::ContainerConfig;

/// `berth.json`: the monitor's part ([`MonitorConfig`], flattened, so the monitor reads
/// the same file without knowing the rest) and the container's whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonitorSpec {
    /// what the monitor needs (id, log, stdio, OOM counter, berth-spawn)
    #[serde(flatten)]
    pub monitor: MonitorConfig,
    /// the container's configuration, for a restart
    pub config: ContainerConfig,
    /// cgroup path (absolute from each hierarchy's root)
    pub cgroups_path: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monitor_reads_its_part_of_berth_json() {
        let spec = MonitorSpec {
            monitor: MonitorConfig {
                id: "c1".into(),
                log_path: "/var/log/c1.log".into(),
                log_max_size: 1024,
                log_max_file: 3,
                tty: true,
                open_stdin: true,
                oom_counter: Some("/sys/fs/cgroup/memory/x/memory.oom_control".into()),
                spawn: "/usr/libexec/berth-spawn".into(),
            },
            config: ContainerConfig::default(),
            cgroups_path: "/berth/c1".into(),
        };
        let json = serde_json::to_vec(&spec).unwrap();
        let seen: MonitorConfig = serde_json::from_slice(&json).unwrap();
        assert_eq!(seen.id, "c1");
        assert_eq!((seen.log_max_size, seen.log_max_file), (1024, 3));
        assert!(seen.tty && seen.open_stdin);
        assert_eq!(seen.spawn, spec.monitor.spawn);
        assert_eq!(seen.oom_counter, spec.monitor.oom_counter);
        let back: MonitorSpec = serde_json::from_slice(&json).unwrap();
        assert_eq!(back.cgroups_path, "/berth/c1");
    }
}
