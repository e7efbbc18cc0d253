//! The host a runner runs on: its facts, as `docker info` reports them, and the
//! heartbeats that tell gateways the runner is there.

pub mod heartbeat;

use std::path::Path;

/// What `docker info` shows about the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    pub hostname: String,
    pub kernel_version: String,
    pub operating_system: String,
    pub architecture: String,
    pub ncpu: u32,
    pub mem_total: u64,
    pub cgroup_version: CgroupVersion,
    /// Limits the kernel cannot enforce here, in Docker's wording.
    pub warnings: Vec<String>,
}

/// Which cgroup hierarchy containers get their limits from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// Controllers on per-controller v1 hierarchies (a v2 mount may sit beside them: the
    /// "hybrid" layout, which is still v1 for resource limits).
    V1,
    /// One unified hierarchy.
    V2,
}

impl CgroupVersion {
    pub fn as_docker_str(self) -> &'static str {
        match self {
            CgroupVersion::V1 => "1",
            CgroupVersion::V2 => "2",
        }
    }
}

impl HostFacts {
    /// Reads the facts from the running kernel and `root` (`/` outside tests).
    pub fn read(root: &Path) -> Self {
        let uts = nix::sys::utsname::uname().ok();
        let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
            uts.as_ref()
                .map(|u| f(u).to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let cgroup_version = cgroup_version(&root.join("sys/fs/cgroup"));
        let mut warnings = Vec::new();
        if cgroup_version == CgroupVersion::V1
            && !root
                .join("sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
                .exists()
        {
            warnings.push("WARNING: No swap limit support".to_owned());
        }
        HostFacts {
            hostname: field(|u| u.nodename()),
            kernel_version: field(|u| u.release()),
            operating_system: os_name(&root.join("etc/os-release")),
            architecture: field(|u| u.machine()),
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1),
            mem_total: mem_total(&root.join("proc/meminfo")),
            cgroup_version,
            warnings,
        }
    }
}

fn cgroup_version(cgroup_root: &Path) -> CgroupVersion {
    // A unified hierarchy mounted at the root has its controller list there; the hybrid
    // layout keeps it under `unified/` and its controllers on v1.
    if cgroup_root.join("cgroup.controllers").exists() {
        CgroupVersion::V2
    } else {
        CgroupVersion::V1
    }
}

fn os_name(os_release: &Path) -> String {
    let text = std::fs::read_to_string(os_release).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| "Linux".to_owned())
}

fn mem_total(meminfo: &Path) -> u64 {
    let text = std::fs::read_to_string(meminfo).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_facts_from_a_fake_root() {
        let root = tempfile_root();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("proc")).unwrap();
        std::fs::create_dir_all(root.join("sys/fs/cgroup")).unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
        )
        .unwrap();
        std::fs::write(
            root.join("proc/meminfo"),
            "MemTotal:       24568112 kB\nMemFree: 1 kB\n",
        )
        .unwrap();
        let facts = HostFacts::read(&root);
        assert_eq!(facts.operating_system, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(facts.mem_total, 24568112 * 1024);
        assert_eq!(facts.cgroup_version, CgroupVersion::V1);
        assert_eq!(facts.warnings, ["WARNING: No swap limit support"]);

        std::fs::write(
            root.join("sys/fs/cgroup/cgroup.controllers"),
            "cpu memory\n",
        )
        .unwrap();
        let facts = HostFacts::read(&root);
        assert_eq!(facts.cgroup_version, CgroupVersion::V2);
        assert!(facts.warnings.is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn tempfile_root() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("berth-host-facts-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
