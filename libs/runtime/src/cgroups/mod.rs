//! What this host's cgroups look like to berth: which version enforces limits (v2 only
//! when /sys/fs/cgroup itself is a cgroup2 mount; a hybrid host counts as v1), which limits
//! it can enforce (for Docker's create warnings), where a container's cgroup directories
//! are, and the default parent (the caller's own cgroup + `/berth`). Reading stats and
//! removing a container's cgroup live in the submodules. Creating cgroups and applying
//! limits is libcontainer's job; this module must never write a limit.

mod cleanup;
mod stats;

use std::path::{Path, PathBuf};

pub use cleanup::{remove, remove_tree};
pub use stats::{CgroupStats, is_frozen, oom_counter, oom_kill_count};

use crate::error::{Error, Result};

/// The root of the cgroup filesystems.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Which cgroup version enforces container limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CgroupVersion {
    /// v1 controllers (also hybrid hosts with a v2 mount at /sys/fs/cgroup/unified)
    V1,
    /// the unified hierarchy mounted at /sys/fs/cgroup
    V2,
}

/// What the host can enforce; each `false` turns into a Docker warning or error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSupport {
    /// v1 or v2
    pub version: CgroupVersion,
    /// memory limits
    pub memory: bool,
    /// memory+swap limits (v1 memsw, v2 memory.swap.max)
    pub swap: bool,
    /// CPU shares / weight
    pub cpu_shares: bool,
    /// CFS quota (`--cpus`)
    pub cpu_cfs: bool,
    /// pids limit
    pub pids: bool,
    /// a device allowlist can be enforced (v1 devices controller; v2 needs eBPF support
    /// that this build of libcgroups leaves out)
    pub device_filter: bool,
    /// CPUs available, for `--cpus` validation
    pub num_cpus: usize,
    /// v1 hierarchies mounted under /sys/fs/cgroup, by directory name (`memory`,
    /// `cpu,cpuacct`, `systemd`, ...); empty on v2
    pub v1_hierarchies: Vec<String>,
}

impl HostSupport {
    /// Everything supported, v1: a fixture for tests and a reference point.
    pub fn all() -> Self {
        HostSupport {
            version: CgroupVersion::V1,
            memory: true,
            swap: true,
            cpu_shares: true,
            cpu_cfs: true,
            pids: true,
            device_filter: true,
            num_cpus: 2,
            v1_hierarchies: Vec::new(),
        }
    }

    /// Probes the running host.
    pub fn detect() -> Self {
        let num_cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        match version() {
            CgroupVersion::V1 => {
                let has = |ctrl: &str, file: &str| {
                    controller_mount(ctrl).is_some_and(|m| m.join(file).exists())
                };
                HostSupport {
                    version: CgroupVersion::V1,
                    memory: has("memory", "memory.limit_in_bytes"),
                    swap: has("memory", "memory.memsw.limit_in_bytes"),
                    cpu_shares: has("cpu", "cpu.shares"),
                    cpu_cfs: has("cpu", "cpu.cfs_quota_us"),
                    pids: controller_mount("pids").is_some(),
                    device_filter: controller_mount("devices").is_some(),
                    num_cpus,
                    v1_hierarchies: v1_hierarchies(),
                }
            }
            CgroupVersion::V2 => {
                let controllers =
                    std::fs::read_to_string(Path::new(CGROUP_ROOT).join("cgroup.controllers"))
                        .unwrap_or_default();
                let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
                // The root cgroup has no memory.swap.max; look at our own (non-root) one.
                let own = Path::new(CGROUP_ROOT).join(own_cgroup().trim_start_matches('/'));
                HostSupport {
                    version: CgroupVersion::V2,
                    memory: has("memory"),
                    swap: has("memory")
                        && (own.join("memory.swap.max").exists() || own == Path::new(CGROUP_ROOT)),
                    cpu_shares: has("cpu"),
                    cpu_cfs: has("cpu"),
                    pids: has("pids"),
                    device_filter: false,
                    num_cpus,
                    v1_hierarchies: Vec::new(),
                }
            }
        }
    }
}

/// v2 when /sys/fs/cgroup is a cgroup2 filesystem, else v1.
pub fn version() -> CgroupVersion {
    match nix::sys::statfs::statfs(CGROUP_ROOT) {
        Ok(fs) if fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => {
            CgroupVersion::V2
        }
        _ => CgroupVersion::V1,
    }
}

/// The calling process's cgroup: the unified one on v2; on v1 the memory controller's
/// (the one whose limits matter most), falling back to `name=systemd`, then `/`.
pub fn own_cgroup() -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    parse_own_cgroup(&text, version())
}

fn parse_own_cgroup(text: &str, version: CgroupVersion) -> String {
    let entries: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let _id = f.next()?;
            Some((f.next()?, f.next()?))
        })
        .collect();
    let find = |pred: &dyn Fn(&str) -> bool| {
        entries
            .iter()
            .find(|(c, _)| pred(c))
            .map(|(_, p)| p.to_string())
    };
    let found = match version {
        CgroupVersion::V2 => find(&|c| c.is_empty()),
        CgroupVersion::V1 => find(&|c| c.split(',').any(|x| x == "memory"))
            .or_else(|| find(&|c| c == "name=systemd")),
    };
    found.unwrap_or_else(|| "/".to_string())
}

/// Makes the next cgroup migration on this host fast; the runner calls it, in the
/// background, as a container create or exec begins.
///
/// Moving a process into a cgroup takes the kernel's global cgroup_threadgroup_rwsem for
/// writing, and when no one has taken it for a while that first waits out an RCU grace
/// period: 15 ms on the test machines, on the path of every container create and exec
/// (runc and podman wait it out too). A writer that comes while another one's grace
/// period is under way, or within a grace period after it, waits only for what is left of
/// it. So this moves the calling thread into the cgroup it is already in, a no-op
/// migration that still takes the lock; by the time libcontainer moves the container's
/// first process, ten milliseconds of create work later, most of the wait is behind it.
/// Best effort: nothing depends on it, so errors are ignored.
pub fn warm_migration_lock() {
    let own = own_cgroup();
    let own = own.trim_start_matches('/');
    let (file, id) = match version() {
        // A single thread by id: `tasks` with a non-zero id takes the lock.
        CgroupVersion::V1 => match controller_mount("memory") {
            Some(mount) => (
                mount.join(own).join("tasks"),
                nix::unistd::gettid().as_raw(),
            ),
            None => return,
        },
        CgroupVersion::V2 => (
            Path::new(CGROUP_ROOT).join(own).join("cgroup.procs"),
            std::process::id() as i32,
        ),
    };
    let _ = std::fs::write(file, id.to_string());
}

/// The default cgroup parent for containers: the caller's own cgroup + `/berth`.
pub fn default_parent() -> String {
    join_cgroup(&own_cgroup(), "berth")
}

/// Joins cgroup path segments into an absolute cgroup path.
pub fn join_cgroup(parent: &str, child: &str) -> String {
    format!("/{}/{}", parent.trim_matches('/'), child.trim_matches('/')).replace("//", "/")
}

/// One v1 cgroup mount: where, and its super options (the controllers, `name=...`).
#[derive(Debug)]
struct V1Mount {
    mount_point: PathBuf,
    options: Vec<String>,
}

/// The host's v1 cgroup mounts, read from /proc/self/mountinfo once per process. Looking
/// a controller up used to re-read mountinfo each time, a dozen times per container
/// create, inspect or delete (measured: 5 ms of the runner's CPU per `docker run`, since
/// the runner's mountinfo grows with every container root it mounts). Hierarchies are
/// mounted at boot and not moved under a running engine; runc caches them the same way.
fn v1_mounts() -> &'static [V1Mount] {
    static MOUNTS: std::sync::OnceLock<Vec<V1Mount>> = std::sync::OnceLock::new();
    MOUNTS.get_or_init(|| {
        parse_v1_mounts(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
    })
}

fn parse_v1_mounts(mountinfo: &str) -> Vec<V1Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut r = right.split_whitespace();
            if r.next()? != "cgroup" {
                return None;
            }
            let super_opts = r.nth(1)?;
            Some(V1Mount {
                mount_point: PathBuf::from(left.split_whitespace().nth(4)?),
                options: super_opts.split(',').map(str::to_string).collect(),
            })
        })
        .collect()
}

/// The names of the v1 hierarchies mounted directly under /sys/fs/cgroup.
fn v1_hierarchies() -> Vec<String> {
    v1_mounts()
        .iter()
        .filter_map(|m| {
            let name = m.mount_point.strip_prefix("/sys/fs/cgroup/").ok()?;
            let name = name.to_str()?;
            (!name.contains('/')).then(|| name.to_string())
        })
        .collect()
}

/// Where a v1 controller is mounted (`cpu` finds `/sys/fs/cgroup/cpu,cpuacct` too).
pub fn controller_mount(controller: &str) -> Option<PathBuf> {
    v1_mounts()
        .iter()
        .find(|m| m.options.iter().any(|o| o == controller))
        .map(|m| m.mount_point.clone())
}

/// The v1 hierarchies a container cgroup may exist in (runc also creates one under
/// `name=systemd`).
const V1_CONTROLLERS: &[&str] = &[
    "memory",
    "cpu",
    "cpuacct",
    "pids",
    "freezer",
    "devices",
    "blkio",
    "cpuset",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
    "name=systemd",
];

/// A container's cgroup directories.
#[derive(Debug, Clone)]
pub struct CgroupDirs {
    /// v1 or v2
    pub version: CgroupVersion,
    /// v2: the one directory; v1: (controller, directory) for each mounted controller
    pub dirs: Vec<(String, PathBuf)>,
}

impl CgroupDirs {
    /// The directories of the cgroup `path` (absolute from each hierarchy's root).
    pub fn new(path: &str) -> Self {
        let rel = path.trim_start_matches('/');
        match version() {
            CgroupVersion::V2 => CgroupDirs {
                version: CgroupVersion::V2,
                dirs: vec![(String::new(), Path::new(CGROUP_ROOT).join(rel))],
            },
            CgroupVersion::V1 => {
                let mut dirs: Vec<(String, PathBuf)> = V1_CONTROLLERS
                    .iter()
                    .filter_map(|c| controller_mount(c).map(|m| (c.to_string(), m.join(rel))))
                    .collect();
                // Hybrid hosts: runc also makes a directory in the v2 hierarchy.
                let unified = Path::new(CGROUP_ROOT).join("unified");
                if nix::sys::statfs::statfs(&unified)
                    .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
                {
                    dirs.push(("unified".to_string(), unified.join(rel)));
                }
                CgroupDirs {
                    version: CgroupVersion::V1,
                    dirs,
                }
            }
        }
    }

    /// The directory of one controller (any name on v2).
    pub fn dir(&self, controller: &str) -> Option<&Path> {
        match self.version {
            CgroupVersion::V2 => self.dirs.first().map(|(_, p)| p.as_path()),
            CgroupVersion::V1 => self
                .dirs
                .iter()
                .find(|(c, _)| c == controller)
                .map(|(_, p)| p.as_path()),
        }
    }

    /// Reads one file of a controller as a trimmed string.
    pub fn read(&self, controller: &str, file: &str) -> Result<String> {
        let dir = self.dir(controller).ok_or_else(|| Error::Cgroup {
            path: PathBuf::from(CGROUP_ROOT).join(controller),
            message: format!("the {controller} controller is not mounted on this host"),
        })?;
        let path = dir.join(file);
        std::fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(|e| Error::Cgroup {
                path,
                message: format!("cannot read it ({e}); is the container still there?"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cgroup_prefers_memory_on_v1_and_unified_on_v2() {
        let text = "9:name=systemd:/sys\n4:memory:/process_api/abc\n1:cpu:/\n0::/unified\n";
        assert_eq!(
            parse_own_cgroup(text, CgroupVersion::V1),
            "/process_api/abc"
        );
        assert_eq!(parse_own_cgroup(text, CgroupVersion::V2), "/unified");
        assert_eq!(
            parse_own_cgroup("9:name=systemd:/sys\n", CgroupVersion::V1),
            "/sys"
        );
        assert_eq!(parse_own_cgroup("", CgroupVersion::V1), "/");
    }

    #[test]
    fn v1_mounts_come_with_their_controllers() {
        let mountinfo = "\
22 1 0:21 / /proc rw,relatime - proc proc rw
30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
33 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
34 25 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";
        let mounts = parse_v1_mounts(mountinfo);
        assert_eq!(mounts.len(), 2, "cgroup (v1) mounts only: {mounts:?}");
        assert_eq!(
            mounts[0].mount_point,
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert!(mounts[0].options.iter().any(|o| o == "cpuacct"));
        assert_eq!(mounts[1].options, ["rw", "memory"]);
    }

    #[test]
    fn warming_the_migration_lock_moves_nothing() {
        // v1 moves the calling thread: look at the thread's own cgroups, and the process's.
        let own = || std::fs::read_to_string("/proc/thread-self/cgroup").unwrap();
        let process = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let before = own();
        warm_migration_lock();
        assert_eq!(own(), before, "the caller stays in the cgroup it was in");
        assert_eq!(
            std::fs::read_to_string("/proc/self/cgroup").unwrap(),
            process
        );
    }

    #[test]
    fn cgroup_paths_join() {
        assert_eq!(join_cgroup("/", "berth"), "/berth");
        assert_eq!(join_cgroup("/a/b/", "/c"), "/a/b/c");
    }
}
