//! The container's mount table as Docker builds it: /proc, a tmpfs /dev (libcontainer adds
//! the minimal device nodes: null, zero, full, random, urandom, tty, ptmx), /dev/pts,
//! /dev/shm, /dev/mqueue, a read-only /sys and /sys/fs/cgroup, then the user's binds and
//! tmpfs mounts; plus Docker's masked and read-only paths. This module only describes
//! mounts; it never mounts anything.

use oci_spec::runtime::{Mount, MountBuilder};

use crate::config::{Bind, ContainerConfig, EngineFile};
use crate::error::{Error, Result};

/// Docker's masked paths (moby `oci/defaults.go`): hidden behind /dev/null or an empty,
/// read-only tmpfs.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Docker's default /dev/shm size: 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount> {
    Ok(MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()?)
}

/// All mounts of a container, in mount order.
pub fn container_mounts(cfg: &ContainerConfig) -> Result<Vec<Mount>> {
    let sys_mode = if cfg.privileged { "rw" } else { "ro" };
    let shm_size = if cfg.shm_size > 0 {
        cfg.shm_size
    } else {
        DEFAULT_SHM_SIZE
    };
    let shm_opt = format!("size={shm_size}");
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", sys_mode],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", sys_mode],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        if cfg.ipc_host {
            // --ipc host shares the host's POSIX shared memory too, as Docker does.
            mount(
                "/dev/shm",
                "bind",
                "/dev/shm",
                &["rbind", "rprivate", "nosuid", "noexec", "nodev"],
            )?
        } else {
            mount(
                "/dev/shm",
                "tmpfs",
                "shm",
                &["nosuid", "noexec", "nodev", "mode=1777", &shm_opt],
            )?
        },
    ];

    let mut user_dests: Vec<String> = Vec::new();
    for spec in &cfg.binds {
        let bind = Bind::parse(spec)?;
        if !bind.source.exists() {
            // Docker creates a missing bind source as a directory; doing it here keeps the
            // behaviour without giving the container a way to create host paths later.
            std::fs::create_dir_all(&bind.source).map_err(|e| {
                Error::io(
                    format!("creating bind mount source {}", bind.source.display()),
                    e,
                )
            })?;
        }
        let mut opts = vec!["rbind".to_string(), bind.propagation.clone()];
        if bind.readonly {
            opts.push("ro".into());
        }
        let source = bind.source.to_string_lossy().into_owned();
        mounts.push(
            MountBuilder::default()
                .destination(&bind.destination)
                .typ("bind")
                .source(source)
                .options(opts)
                .build()?,
        );
        user_dests.push(bind.destination);
    }
    for (dest, options) in &cfg.tmpfs {
        if !dest.starts_with('/') {
            return Err(Error::InvalidConfig(format!(
                "tmpfs destination {dest:?} must be an absolute path"
            )));
        }
        let mut opts: Vec<String> = vec!["nosuid".into(), "nodev".into(), "noexec".into()];
        for opt in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            match opt {
                "exec" => opts.retain(|o| o != "noexec"),
                "suid" => opts.retain(|o| o != "nosuid"),
                "dev" => opts.retain(|o| o != "nodev"),
                _ => opts.push(opt.to_string()),
            }
        }
        mounts.push(
            MountBuilder::default()
                .destination(dest)
                .typ("tmpfs")
                .source("tmpfs")
                .options(opts)
                .build()?,
        );
        user_dests.push(dest.clone());
    }
    // A user mount over a default one replaces it, as in Docker (e.g. `--tmpfs /dev/shm`).
    let defaults = 7;
    let overridden = |dest: &str| {
        user_dests
            .iter()
            .any(|d| d.trim_end_matches('/') == dest.trim_end_matches('/'))
    };
    let mut i = 0;
    mounts.retain(|m| {
        i += 1;
        i > defaults || !m.destination().to_str().is_some_and(overridden)
    });
    // The engine's files go between the defaults and the user's mounts, as moby's
    // network mounts do, unless the user mounts something there.
    let kept_defaults = mounts.len() - user_dests.len();
    let engine = cfg
        .engine_files
        .iter()
        .filter(|f| !overridden(&f.destination))
        .map(|f| engine_file_mount(f, cfg.readonly_rootfs))
        .collect::<Result<Vec<_>>>()?;
    mounts.splice(kept_defaults..kept_defaults, engine);
    Ok(mounts)
}

/// Docker's mount of /etc/hosts and its siblings: a plain bind, read-only only when the
/// whole root is.
fn engine_file_mount(file: &EngineFile, readonly: bool) -> Result<Mount> {
    if !file.destination.starts_with('/') {
        return Err(Error::InvalidConfig(format!(
            "the engine file destination {:?} must be an absolute path",
            file.destination
        )));
    }
    let mut opts = vec!["rbind".to_string(), "rprivate".to_string()];
    if readonly {
        opts.push("ro".into());
    }
    Ok(MountBuilder::default()
        .destination(&file.destination)
        .typ("bind")
        .source(&file.source)
        .options(opts)
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dests(m: &[Mount]) -> Vec<String> {
        m.iter()
            .map(|m| m.destination().display().to_string())
            .collect()
    }

    #[test]
    fn defaults_match_docker() {
        let m = container_mounts(&ContainerConfig::default()).unwrap();
        assert_eq!(
            dests(&m),
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm"
            ]
        );
        let sys = &m[3];
        assert!(sys.options().as_ref().unwrap().contains(&"ro".to_string()));
        let shm = &m[6];
        assert!(
            shm.options()
                .as_ref()
                .unwrap()
                .contains(&format!("size={}", 64 << 20))
        );
    }

    #[test]
    fn binds_and_tmpfs_follow_and_replace_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = ContainerConfig::default();
        cfg.binds.push(format!("{}:/data:ro", dir.path().display()));
        cfg.tmpfs.insert("/dev/shm".into(), "size=1m,exec".into());
        let m = container_mounts(&cfg).unwrap();
        assert_eq!(
            dests(&m),
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/data",
                "/dev/shm"
            ]
        );
        let data = &m[6];
        assert_eq!(data.typ().as_deref(), Some("bind"));
        assert!(data.options().as_ref().unwrap().contains(&"ro".to_string()));
        let shm = m[7].options().as_ref().unwrap();
        assert!(shm.contains(&"size=1m".to_string()) && !shm.contains(&"noexec".to_string()));
    }

    #[test]
    fn engine_files_follow_the_defaults_and_yield_to_user_mounts() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| EngineFile {
            source: dir.path().join(name),
            destination: format!("/etc/{name}"),
        };
        let mut cfg = ContainerConfig {
            engine_files: vec![file("hostname"), file("hosts"), file("resolv.conf")],
            ..Default::default()
        };
        cfg.binds
            .push(format!("{}:/etc/hosts:ro", dir.path().display()));
        let m = container_mounts(&cfg).unwrap();
        let d = dests(&m);
        assert_eq!(
            d[7..],
            ["/etc/hostname", "/etc/resolv.conf", "/etc/hosts"],
            "the user's /etc/hosts replaces the engine's"
        );
        let hostname = &m[7];
        assert_eq!(hostname.typ().as_deref(), Some("bind"));
        assert_eq!(
            hostname.source().as_deref(),
            Some(dir.path().join("hostname").as_path())
        );
        assert!(
            !hostname
                .options()
                .as_ref()
                .unwrap()
                .contains(&"ro".to_string())
        );
        cfg.readonly_rootfs = true;
        let m = container_mounts(&cfg).unwrap();
        assert!(m[7].options().as_ref().unwrap().contains(&"ro".to_string()));
    }

    #[test]
    fn privileged_sys_is_writable() {
        let cfg = ContainerConfig {
            privileged: true,
            ..Default::default()
        };
        let m = container_mounts(&cfg).unwrap();
        assert!(m[3].options().as_ref().unwrap().contains(&"rw".to_string()));
    }
}
