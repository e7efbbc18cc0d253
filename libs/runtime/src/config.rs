//! berth's own description of a container: the subset of Docker's create request
//! (`Config` + `HostConfig`) that the runtime needs, in Docker's units and semantics.
//! The spec module turns it into an OCI runtime spec. This module only holds data and
//! parses Docker's string forms (`src:dst:ro`, `10m`); it must never touch the system.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod human_size;
pub use human_size::from_human_size;

/// One container, as the runner asks for it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerConfig {
    /// Entrypoint followed by Cmd, already resolved by the caller.
    pub args: Vec<String>,
    /// `KEY=value` entries (image env merged with the request's, request last).
    pub env: Vec<String>,
    /// Working directory inside the container; empty means `/`.
    pub working_dir: String,
    /// Docker's `--user`: `uid`, `uid:gid`, `name`, `name:group`; empty means root.
    pub user: String,
    /// Docker's `--group-add`: extra groups by name or number.
    pub group_add: Vec<String>,
    /// Hostname; empty leaves the runtime default (the container id's first 12 chars).
    pub hostname: String,
    /// Domain name (`--domainname`).
    pub domainname: String,
    /// Allocate a pseudo terminal (`-t`).
    pub tty: bool,
    /// Keep stdin open (`-i`); otherwise stdin is /dev/null.
    pub open_stdin: bool,
    /// Mount the root filesystem read-only (`--read-only`).
    pub readonly_rootfs: bool,
    /// Docker `Binds`: `host-src:container-dest[:options]`.
    pub binds: Vec<String>,
    /// Docker `Tmpfs`: container path -> mount options (`size=64m,mode=1777`).
    pub tmpfs: BTreeMap<String, String>,
    /// Files the engine gives the container (`/etc/hostname`, `/etc/hosts`,
    /// `/etc/resolv.conf`), bind-mounted from outside its root; a bind or tmpfs of the
    /// user's at the same destination wins, as in Docker.
    pub engine_files: Vec<EngineFile>,
    /// Which network namespace the container gets.
    pub network: NetworkMode,
    /// cgroup limits.
    pub resources: Resources,
    /// Capabilities to add to Docker's default set (`NET_ADMIN` or `CAP_NET_ADMIN`, or `ALL`).
    pub cap_add: Vec<String>,
    /// Capabilities to drop from it (or `ALL`).
    pub cap_drop: Vec<String>,
    /// `--privileged`: all capabilities, no seccomp, no masked paths, writable /sys.
    pub privileged: bool,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--security-opt seccomp=unconfined`.
    pub seccomp_unconfined: bool,
    /// `--security-opt seccomp=profile.json`: the profile in Docker's format (the CLI
    /// sends the file's content); `None` means berth's default profile.
    pub seccomp_profile: Option<String>,
    /// `--pid host`: no PID namespace of its own.
    pub pid_host: bool,
    /// `--ipc host`: no IPC namespace of its own, and the host's /dev/shm.
    pub ipc_host: bool,
    /// `--sysctl`: namespaced kernel parameters (see `spec::sysctls` for which).
    pub sysctls: BTreeMap<String, String>,
    /// `--device host[:container[:rwm]]`.
    pub devices: Vec<Device>,
    /// `--ulimit name=soft[:hard]`.
    pub ulimits: Vec<Ulimit>,
    /// `--shm-size` in bytes; 0 means Docker's 64 MiB.
    pub shm_size: i64,
    /// json-file log options.
    pub log: LogConfig,
}

/// A file the engine provides to a container. It lives in the runner's state directory
/// and is bind-mounted at `destination`, so the host never writes inside the container's
/// root (where an image or the container could have made the path a symlink to a host
/// file), and rewrites of the source reach the running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineFile {
    /// The file on the host.
    pub source: PathBuf,
    /// Where the container sees it (absolute).
    pub destination: String,
}

/// The network namespace of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// A new, empty network namespace (loopback only): Docker's `none`, and the starting
    /// point for `bridge` when the runner wires it up later.
    #[default]
    Private,
    /// The host's network namespace (`--network host`).
    Host,
    /// Join an existing namespace, e.g. `/run/netns/berth-<id>` prepared by the runner.
    Path(PathBuf),
}

/// cgroup limits, in Docker's units and conventions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// `--memory` in bytes; 0 means unlimited.
    pub memory: i64,
    /// `--memory-swap` in bytes: memory plus swap. -1 unlimited swap, 0 means twice
    /// `memory` (Docker's default when memory is set).
    pub memory_swap: i64,
    /// `--cpu-shares` (relative weight, v1 units); 0 means the default (1024).
    pub cpu_shares: i64,
    /// `--cpus` times 10^9; turned into a CFS quota over a 100 ms period.
    pub nano_cpus: i64,
    /// `--pids-limit`; 0 or negative means unlimited.
    pub pids_limit: i64,
}

/// One `--ulimit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// Docker's short name: `nofile`, `nproc`, `core`, `memlock`, `stack`, ...
    pub name: String,
    /// soft limit
    pub soft: i64,
    /// hard limit
    pub hard: i64,
}

/// One `--device`: a host device node made available in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// the device node on the host
    pub host_path: PathBuf,
    /// where it appears in the container (empty: the host path)
    pub container_path: String,
    /// cgroup access, a subset of `rwm` (empty: `rwm`)
    pub permissions: String,
}

/// Reads Docker's `PidMode` or `IpcMode` (`kind` is `pid` or `ipc`): true for `host`,
/// false for a namespace of the container's own; what berth cannot do is refused.
pub fn host_namespace(kind: &str, mode: &str) -> Result<bool> {
    match (kind, mode) {
        (_, "" | "private") | ("ipc", "shareable") => Ok(false),
        (_, "host") => Ok(true),
        _ => Err(Error::InvalidConfig(format!(
            "--{kind} {mode:?} is not supported by berth: use host, or leave it out for a namespace of the container's own"
        ))),
    }
}

/// Docker's json-file log driver options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// Where the log goes; `None` means `container-json.log` in the state directory.
    /// Keep it outside the state directory when logs must outlive a delete (restarts).
    pub path: Option<PathBuf>,
    /// `max-size` in bytes; 0 means never rotate.
    pub max_size: u64,
    /// `max-file`: how many files to keep, the live one included (at least 1).
    pub max_file: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            path: None,
            max_size: 0,
            max_file: 1,
        }
    }
}

impl LogConfig {
    /// Reads Docker's `--log-opt` map (`max-size=10m`, `max-file=3`) as moby's json-file
    /// driver does, with its messages; other keys are ignored. `max-size` is decimal
    /// ([`from_human_size`]: `10m` is 10,000,000 bytes). `max-file` without `max-size`
    /// is accepted and rotates nothing, as in Docker.
    pub fn from_docker_opts<'a>(
        opts: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self> {
        let mut cfg = LogConfig::default();
        for (key, value) in opts {
            match key {
                "max-size" => {
                    let size = from_human_size(value).map_err(Error::InvalidConfig)?;
                    if size <= 0 {
                        return Err(Error::InvalidConfig(
                            "max-size must be a positive number".into(),
                        ));
                    }
                    cfg.max_size = size as u64;
                }
                "max-file" => {
                    let n: i64 = value.parse().map_err(|e: std::num::ParseIntError| {
                        let why = match e.kind() {
                            std::num::IntErrorKind::PosOverflow
                            | std::num::IntErrorKind::NegOverflow => "value out of range",
                            _ => "invalid syntax",
                        };
                        Error::InvalidConfig(format!("strconv.Atoi: parsing {value:?}: {why}"))
                    })?;
                    if n < 1 {
                        return Err(Error::InvalidConfig(
                            "max-file cannot be less than 1".into(),
                        ));
                    }
                    cfg.max_file = u32::try_from(n).map_err(|_| {
                        Error::InvalidConfig(format!(
                            "max-file {n} is more than berth keeps: ask for at most {}",
                            u32::MAX
                        ))
                    })?;
                }
                _ => {}
            }
        }
        Ok(cfg)
    }
}

/// A bind mount parsed from Docker's `src:dst[:opts]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// host path
    pub source: PathBuf,
    /// container path
    pub destination: String,
    /// `ro`
    pub readonly: bool,
    /// propagation (`rprivate` unless given)
    pub propagation: String,
}

impl Bind {
    /// Parses one Docker `Binds` entry.
    pub fn parse(spec: &str) -> Result<Bind> {
        let bad = |why: &str| {
            Error::InvalidConfig(format!(
                "invalid bind mount {spec:?}: {why}; use /host/path:/container/path[:ro]"
            ))
        };
        let mut parts = spec.split(':');
        let source = parts
            .next()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("no source"))?;
        let destination = parts
            .next()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("no destination"))?;
        let opts = parts.next().unwrap_or("");
        if parts.next().is_some() {
            return Err(bad("too many ':'"));
        }
        if !source.starts_with('/') {
            return Err(bad(
                "named volumes are resolved by the runner; the source must be an absolute host path",
            ));
        }
        if !destination.starts_with('/') {
            return Err(bad("the destination must be an absolute path"));
        }
        let mut bind = Bind {
            source: PathBuf::from(source),
            destination: destination.to_string(),
            readonly: false,
            propagation: "rprivate".to_string(),
        };
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            match opt {
                "ro" => bind.readonly = true,
                "rw" => bind.readonly = false,
                "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => {
                    bind.propagation = opt.to_string()
                }
                // SELinux relabelling means nothing without SELinux; nocopy is for the
                // caller, which fills volumes before the runtime mounts them.
                "z" | "Z" | "nocopy" => {}
                _ => return Err(bad(&format!("unknown option {opt:?}"))),
            }
        }
        Ok(bind)
    }
}

/// Parses Docker's binary sizes (`RAMInBytes`, as `--memory` and `--shm-size`): `1024`,
/// `64k`, `10m`, `1g` (powers of 1024; a trailing `b`/`B` is allowed). json-file's
/// `max-size` is decimal instead: [`from_human_size`].
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (digits, mult) = match t.char_indices().last() {
        Some((i, 'k')) => (&t[..i], 1u64 << 10),
        Some((i, 'm')) => (&t[..i], 1 << 20),
        Some((i, 'g')) => (&t[..i], 1 << 30),
        Some((i, 't')) => (&t[..i], 1 << 40),
        _ => (t, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| {
            Error::InvalidConfig(format!(
                "invalid size {text:?}: use a number with an optional k, m or g suffix"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_docker_units() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("64k").unwrap(), 65536);
        assert_eq!(parse_size("10m").unwrap(), 10 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("2mb").unwrap(), 2 << 20);
        assert!(parse_size("ten").is_err());
    }

    #[test]
    fn binds_parse_ro_and_propagation() {
        let b = Bind::parse("/src:/dst:ro,rshared").unwrap();
        assert_eq!(b.source, PathBuf::from("/src"));
        assert_eq!(b.destination, "/dst");
        assert!(b.readonly);
        assert_eq!(b.propagation, "rshared");
        assert!(!Bind::parse("/a:/b").unwrap().readonly);
        assert!(Bind::parse("vol:/b").is_err());
        assert!(Bind::parse("/a:b").is_err());
        assert!(Bind::parse("/a:/b:bogus").is_err());
    }

    #[test]
    fn log_opts_read_docker_keys() {
        let c = LogConfig::from_docker_opts([("max-size", "1k"), ("max-file", "3")]).unwrap();
        assert_eq!((c.max_size, c.max_file), (1000, 3));
        let c = LogConfig::from_docker_opts([("max-size", "10m")]).unwrap();
        assert_eq!((c.max_size, c.max_file), (10_000_000, 1));
        // As moby: max-file alone is accepted and rotates nothing.
        let c = LogConfig::from_docker_opts([("max-file", "3")]).unwrap();
        assert_eq!((c.max_size, c.max_file), (0, 3));
    }

    #[test]
    fn log_opts_are_refused_in_dockers_words() {
        let refused = |k: &'static str, v: &'static str| {
            LogConfig::from_docker_opts([(k, v)])
                .unwrap_err()
                .to_string()
        };
        for size in ["0", "0k", "-0", "0.5", "10000000000000000000"] {
            let e = refused("max-size", size);
            assert!(
                e.contains("max-size must be a positive number"),
                "{size}: {e}"
            );
        }
        assert!(refused("max-size", "ten").contains("invalid size: 'ten'"));
        assert!(refused("max-size", "10x").contains("invalid suffix: 'x'"));
        for n in ["0", "-1"] {
            let e = refused("max-file", n);
            assert!(e.contains("max-file cannot be less than 1"), "{n}: {e}");
        }
        let e = refused("max-file", "three");
        assert!(
            e.contains(r#"strconv.Atoi: parsing "three": invalid syntax"#),
            "{e}"
        );
        let e = refused("max-file", "99999999999999999999");
        assert!(e.contains("value out of range"), "{e}");
    }
}
