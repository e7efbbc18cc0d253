//! What a container was created with: Docker's `Config` and `HostConfig` as the runner
//! keeps them, next to its record, for inspect and for later runs. The RPCs convert the
//! create request into this (rpc/convert.rs); rows are JSON, and every struct takes
//! defaults for fields an older runner did not write.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use super::mounts::MountKind;
pub use crate::networks::EndpointConfig;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    /// Empty means the runner generates one.
    pub name: String,
    /// The image as the user named it; shown by docker ps.
    pub image: String,
    /// Pinned at create time, so a later re-tag does not change what this container
    /// runs; empty when unknown.
    pub image_id: String,
    pub manifest_digest: String,
    /// `None` takes the image's value; an empty list clears it (`--entrypoint ""`).
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// "KEY=value", as Docker sends them.
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub labels: HashMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub hostname: String,
    pub domainname: String,
    /// "80/tcp", "53/udp".
    pub exposed_ports: Vec<String>,
    /// Paths that get an anonymous volume (`Config.Volumes`).
    pub volumes: Vec<String>,
    /// Empty means the image's, else SIGTERM.
    pub stop_signal: String,
    /// Seconds; `None` means the runner's default of 10.
    pub stop_timeout: Option<i32>,
    pub healthcheck: Option<HealthConfig>,
    pub host_config: Option<HostConfig>,
    /// `NetworkingConfig.EndpointsConfig`, keyed by network name.
    pub endpoints: HashMap<String, EndpointConfig>,
    pub network_disabled: bool,
    pub platform: Option<Platform>,
}

/// Docker's `Healthcheck`. Durations are nanoseconds, as Docker's JSON has them; the
/// wire allows negative ones, which Docker refuses, so they are kept as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`; empty inherits the
    /// image's.
    pub test: Vec<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub start_period: Option<i64>,
    pub start_interval: Option<i64>,
    pub retries: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostConfig {
    /// `src:dst[:opts]`, as docker -v sends them.
    pub binds: Vec<String>,
    pub mounts: Vec<Mount>,
    /// Keyed by "port/proto", as Docker does.
    pub port_bindings: HashMap<String, Vec<PortBinding>>,
    pub publish_all_ports: bool,
    /// "bridge", "host", "none", `container:<id>` or a network name.
    pub network_mode: String,
    pub resources: Option<Resources>,
    pub auto_remove: bool,
    pub restart_policy: Option<RestartPolicy>,
    /// Mount path -> tmpfs options ("size=64m,mode=1777").
    pub tmpfs: HashMap<String, String>,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// "seccomp=unconfined", "no-new-privileges", "apparmor=...".
    pub security_opt: Vec<String>,
    pub ulimits: Vec<Ulimit>,
    pub readonly_rootfs: bool,
    /// `None` means the runner's default driver and options.
    pub log_config: Option<LogConfig>,
    pub dns: Vec<String>,
    pub dns_options: Vec<String>,
    pub dns_search: Vec<String>,
    /// "host:ip" lines for /etc/hosts (`--add-host`).
    pub extra_hosts: Vec<String>,
    /// Bytes of /dev/shm; 0 means the default of 64 MiB.
    pub shm_size: u64,
    /// Run an init as PID 1; `None` means the runner's default.
    pub init: Option<bool>,
    pub ipc_mode: String,
    pub pid_mode: String,
    pub uts_mode: String,
    pub userns_mode: String,
    pub cgroupns_mode: String,
    pub cgroup_parent: String,
    pub devices: Vec<DeviceMapping>,
    pub group_add: Vec<String>,
    pub sysctls: HashMap<String, String>,
    pub oom_score_adj: i32,
    pub volumes_from: Vec<String>,
    /// Legacy "name:alias" links on the default bridge.
    pub links: Vec<String>,
    pub console_size: Option<TtySize>,
}

/// Resource limits; `None` is Docker's default (no limit). Values keep Docker's
/// meaning: `memory_swap` -1 is unlimited swap, `pids_limit` 0 or -1 is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u32>,
    pub oom_kill_disable: Option<bool>,
}

/// One `--mount`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mount {
    /// `None` when the client named no type (or one berth does not know).
    pub kind: Option<MountKind>,
    /// Host path for binds, volume name for volumes (empty: anonymous), unused for
    /// tmpfs.
    pub source: String,
    pub target: String,
    pub read_only: bool,
    /// Bind propagation: "rprivate" (default), "private", "rshared", "shared", ...
    pub propagation: String,
    /// Volumes: do not copy the image's files at the target into a new volume.
    pub no_copy: bool,
    /// Volumes: labels and driver options used when the mount creates the volume.
    pub volume_labels: HashMap<String, String>,
    pub volume_driver_options: HashMap<String, String>,
    /// Tmpfs: size in bytes (0 = unlimited) and mode bits (0 = 1777).
    pub tmpfs_size_bytes: u64,
    pub tmpfs_mode: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortBinding {
    /// Empty means all interfaces.
    pub host_ip: String,
    /// A port, a range "8000-8010", or empty for one the runner picks.
    pub host_port: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    pub name: RestartPolicyName,
    /// Only for `OnFailure`; 0 means retry for ever.
    pub max_retry_count: i32,
}

/// Docker's restart policies; an empty or unknown name is `No`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartPolicyName {
    #[default]
    No,
    Always,
    UnlessStopped,
    OnFailure,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ulimit {
    /// "nofile", "nproc", ...
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// "json-file" (the default when empty), "local", "none".
    pub r#type: String,
    pub config: HashMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    /// "rwm" or a subset.
    pub cgroup_permissions: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TtySize {
    pub height: u32,
    pub width: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: String,
    pub os_version: String,
}
