//! Builds the OCI runtime spec (`config.json`) for a [`ContainerConfig`], the way Docker
//! builds it: Docker's default environment, user resolution against the image, default
//! mounts, masked and read-only paths, the 14 default capabilities, the default seccomp
//! profile, namespaces and cgroup limits. The result is pure data plus the create
//! warnings; applying it is libcontainer's job. This module reads the image's
//! /etc/passwd and /etc/group and the process's own rlimits, and never changes the system
//! (except creating a missing bind-mount source directory, as Docker does).

pub mod capabilities;
pub mod devices;
pub mod mounts;
pub mod resources;
pub mod seccomp;
pub mod seccomp_profile;
pub mod sysctl;
pub mod user;

use std::path::Path;

use oci_spec::runtime::{
    LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, PosixRlimit,
    PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};

use crate::cgroups::HostSupport;
use crate::config::ContainerConfig;
use crate::error::{Error, Result};

/// Docker's PATH when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the spec depends on besides the container's config.
#[derive(Debug, Clone)]
pub struct SpecContext<'a> {
    /// container id (the default hostname is its first 12 characters)
    pub id: &'a str,
    /// absolute path of the prepared root filesystem
    pub rootfs: &'a Path,
    /// the container's cgroup, absolute from each hierarchy's root: `<parent>/<id>`
    pub cgroups_path: &'a str,
    /// what the host's cgroups can enforce
    pub host: &'a HostSupport,
    /// the capabilities `--privileged` and `ALL` grant: the daemon's bounding set
    pub bounding: u64,
    /// the current hard limit of an rlimit (`None` when unlimited)
    pub hard_limit: fn(PosixRlimitType) -> Option<u64>,
    /// the daemon's own hard RLIMIT_NOFILE ([`daemon_nofile_hard`]): the hard limit of a
    /// container that sets no `nofile` ulimit
    pub nofile_hard: u64,
}

/// A built spec and the warnings for Docker's create response.
#[derive(Debug, Clone)]
pub struct BuiltSpec {
    /// the OCI runtime spec
    pub spec: Spec,
    /// limits that could not be applied, in Docker's words
    pub warnings: Vec<String>,
}

/// Replaces or appends `KEY=value` entries, as Docker's `ReplaceOrAppendEnvValues`.
pub fn merge_env(base: &mut Vec<String>, overrides: &[String]) {
    for entry in overrides {
        let key = entry.split_once('=').map_or(entry.as_str(), |(k, _)| k);
        match base
            .iter_mut()
            .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
        {
            Some(existing) => *existing = entry.clone(),
            None => base.push(entry.clone()),
        }
    }
}

/// Gives `env` a non-empty `HOME` (`home`, else `/`), dropping empty or bare `HOME`
/// entries. libcontainer looks a missing or empty `HOME` up with getpwuid after entering
/// the container, where glibc's NSS would load the image's `libnss_*.so` into the
/// runtime process (see `spawn::sealed_exe`).
pub fn ensure_home(env: &mut Vec<String>, home: &str) {
    let has_home = env
        .iter()
        .any(|e| e.strip_prefix("HOME=").is_some_and(|v| !v.is_empty()));
    env.retain(|e| e != "HOME" && e != "HOME=");
    if !has_home {
        let home = if home.is_empty() { "/" } else { home };
        env.push(format!("HOME={home}"));
    }
}

/// The most a container's hard limit of `resource` may be: this process's own (from
/// getrlimit(2)), unless it holds CAP_SYS_RESOURCE and may raise it (`None` then, and
/// when unlimited).
pub fn current_hard_limit(resource: PosixRlimitType) -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit};
    if capabilities::has_effective("SYS_RESOURCE") {
        return None;
    }
    let r = match resource {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    };
    match getrlimit(r) {
        Ok((_, hard)) if hard != libc::RLIM_INFINITY => Some(hard),
        _ => None,
    }
}

/// The open-file soft limit of a container that sets no `nofile` ulimit.
///
/// Docker 25+ gives containers the limits of dockerd's environment minus what Go raised:
/// soft 1024 (Go restores the original soft limit in children, and containerd no longer
/// raises it) and the daemon's hard limit (524288 under its systemd unit). berthd raises
/// its own soft limit to the hard one for its proxy's sockets, so a container left to
/// inherit would get that instead; programs that use select(2) break above 1024, and
/// the raised limit is the daemon's need, not the container's. Never above the hard
/// limit: without CAP_SYS_RESOURCE the container could not start.
pub const DEFAULT_NOFILE_SOFT: u64 = 1024;

/// This process's hard RLIMIT_NOFILE, whatever its capabilities: containers get it by
/// default, as Docker's get dockerd's.
pub fn daemon_nofile_hard() -> u64 {
    use nix::sys::resource::{Resource, getrlimit};
    // getrlimit cannot fail for a valid resource; 1024 is the kernel's default if it did.
    getrlimit(Resource::RLIMIT_NOFILE).map_or(DEFAULT_NOFILE_SOFT, |(_, hard)| hard)
}

fn rlimits(cfg: &ContainerConfig, ctx: &SpecContext<'_>) -> Result<Vec<PosixRlimit>> {
    let mut out = Vec::new();
    if !cfg
        .ulimits
        .iter()
        .any(|u| u.name.eq_ignore_ascii_case("nofile"))
    {
        out.push(
            PosixRlimitBuilder::default()
                .typ(PosixRlimitType::RlimitNofile)
                .soft(DEFAULT_NOFILE_SOFT.min(ctx.nofile_hard))
                .hard(ctx.nofile_hard)
                .build()?,
        );
    }
    for u in &cfg.ulimits {
        let typ: PosixRlimitType = format!("RLIMIT_{}", u.name.to_ascii_uppercase())
            .parse()
            .map_err(|_| {
                Error::InvalidConfig(format!(
                    "invalid ulimit type: {}: use nofile, nproc, core, memlock, stack, ...",
                    u.name
                ))
            })?;
        if u.soft < 0 || u.hard < 0 || u.soft > u.hard {
            return Err(Error::InvalidConfig(format!(
                "ulimit {}: soft limit {} must be between 0 and the hard limit {}",
                u.name, u.soft, u.hard
            )));
        }
        let (soft, hard) = (u.soft as u64, u.hard as u64);
        // Without CAP_SYS_RESOURCE nobody may raise a hard limit: the container would fail
        // at start with EPERM. Say so now, and never run it with other limits than asked.
        if let Some(max) = (ctx.hard_limit)(typ)
            && hard > max
        {
            return Err(Error::InvalidConfig(format!(
                "ulimit {}: the hard limit {} is above this host's {} and berthd lacks CAP_SYS_RESOURCE to raise it: ask for at most {}",
                u.name, hard, max, max
            )));
        }
        out.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(soft)
                .hard(hard)
                .build()?,
        );
    }
    Ok(out)
}

/// Docker's read-only paths, plus each v1 cgroup hierarchy: libcontainer 0.7 bind-mounts
/// the v1 hierarchies read-write even when the `/sys/fs/cgroup` mount says `ro` (runc
/// makes them read-only), which would let the container rewrite its own limits.
fn readonly_paths(host: &HostSupport) -> Vec<String> {
    let mut paths: Vec<String> = mounts::READONLY_PATHS
        .iter()
        .map(|s| s.to_string())
        .collect();
    paths.extend(
        host.v1_hierarchies
            .iter()
            .map(|h| format!("/sys/fs/cgroup/{h}")),
    );
    paths
}

/// Builds the OCI spec of a container.
pub fn build(cfg: &ContainerConfig, ctx: &SpecContext<'_>) -> Result<BuiltSpec> {
    if cfg.args.is_empty() || cfg.args[0].is_empty() {
        return Err(Error::InvalidConfig(
            "no command specified: give the image a CMD or ENTRYPOINT, or pass a command".into(),
        ));
    }
    let (resources, mut warnings) = resources::linux_resources(&cfg.resources, ctx.host)?;
    let user = user::resolve_in_rootfs(ctx.rootfs, &cfg.user, &cfg.group_add)?;

    let host_net = cfg.network == crate::config::NetworkMode::Host;
    let hostname = if !cfg.hostname.is_empty() {
        Some(cfg.hostname.clone())
    } else if host_net {
        None
    } else {
        Some(ctx.id.chars().take(12).collect::<String>())
    };

    let mut env = vec![format!("PATH={DEFAULT_PATH}")];
    if let Some(h) = &hostname {
        env.push(format!("HOSTNAME={h}"));
    }
    if cfg.tty {
        env.push("TERM=xterm".into());
    }
    merge_env(&mut env, &cfg.env);
    ensure_home(&mut env, &user.home);

    let mut caps =
        capabilities::effective_set(cfg.privileged, &cfg.cap_add, &cfg.cap_drop, ctx.bounding)?;
    if !ctx.host.device_filter && !cfg.privileged && caps.remove("MKNOD") {
        warnings.push(
            "this host's cgroup v2 device filter is not supported by this berth build: CAP_MKNOD was dropped so the container cannot create device nodes".into(),
        );
    }
    let oci_caps = capabilities::to_oci(&caps)?;
    let mut linux_caps = LinuxCapabilitiesBuilder::default()
        .bounding(oci_caps.clone())
        .effective(oci_caps.clone())
        .permitted(oci_caps)
        .build()?;
    linux_caps.set_inheritable(None);
    linux_caps.set_ambient(None);

    let cwd = if cfg.working_dir.is_empty() {
        "/".to_string()
    } else {
        cfg.working_dir.clone()
    };
    if !cwd.starts_with('/') {
        return Err(Error::InvalidConfig(format!(
            "the working directory {cwd:?} is invalid, it needs to be an absolute path"
        )));
    }
    let mut process = ProcessBuilder::default()
        .terminal(cfg.tty)
        .args(cfg.args.clone())
        .env(env)
        .cwd(cwd)
        .user(
            UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .additional_gids(user.additional_gids)
                .build()?,
        )
        .capabilities(linux_caps)
        .rlimits(rlimits(cfg, ctx)?)
        .build()?;
    // libcontainer installs seccomp before dropping capabilities only when this is unset;
    // Some(false) would make it install the filter too late, without the privilege to.
    process.set_no_new_privileges(cfg.no_new_privileges.then_some(true));

    let mut namespaces = Vec::new();
    for (typ, own) in [
        (LinuxNamespaceType::Pid, !cfg.pid_host),
        (LinuxNamespaceType::Ipc, !cfg.ipc_host),
        (LinuxNamespaceType::Uts, true),
        (LinuxNamespaceType::Mount, true),
    ] {
        if own {
            namespaces.push(LinuxNamespaceBuilder::default().typ(typ).build()?);
        }
    }
    match &cfg.network {
        crate::config::NetworkMode::Private => namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .build()?,
        ),
        crate::config::NetworkMode::Path(p) => namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path(p.clone())
                .build()?,
        ),
        crate::config::NetworkMode::Host => {}
    }
    // Docker gives containers a private cgroup namespace on v2 hosts and the host's on v1.
    // With --pid host too: libcontainer 0.7 then takes its parent's cgroup for the
    // root of an enclosing container and bind-mounts a v1 hierarchy path that does not
    // exist (whenever the runner is not in the root cgroup); a cgroup namespace mounts
    // the hierarchies themselves, seen from the container's own cgroup.
    if ctx.host.version == crate::cgroups::CgroupVersion::V2 || cfg.pid_host {
        namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Cgroup)
                .build()?,
        );
    }

    let (device_nodes, device_rules) = devices::devices(&cfg.devices)?;
    let mut resources = resources;
    if !device_rules.is_empty() {
        let mut rules = resources.devices().clone().unwrap_or_default();
        rules.extend(device_rules);
        resources.set_devices(Some(rules));
    }
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .cgroups_path(ctx.cgroups_path)
        .resources(resources);
    if !device_nodes.is_empty() {
        linux = linux.devices(device_nodes);
    }
    if let Some(params) = sysctl::validated(cfg)? {
        linux = linux.sysctl(params);
    }
    if cfg.privileged && cfg.seccomp_profile.is_some() {
        // Docker drops the profile silently here; berth never runs with other security
        // than asked.
        return Err(Error::InvalidConfig(
            "--privileged runs without seccomp, so a seccomp profile cannot apply: drop one of them".into(),
        ));
    }
    if !cfg.privileged {
        linux = linux
            .masked_paths(
                mounts::MASKED_PATHS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            )
            .readonly_paths(readonly_paths(ctx.host));
        if let Some(profile) = &cfg.seccomp_profile {
            linux = linux.seccomp(seccomp_profile::from_docker(profile, &caps)?);
        } else if !cfg.seccomp_unconfined {
            linux = linux.seccomp(seccomp::default_profile(&caps)?);
        }
    }

    let mut linux = linux.build()?;
    if cfg.privileged {
        // oci-spec fills in its own masked paths by default; privileged means none.
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
    }
    let mut spec = SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path(ctx.rootfs)
                .readonly(cfg.readonly_rootfs)
                .build()?,
        )
        .process(process)
        .mounts(mounts::container_mounts(cfg)?)
        .linux(linux)
        .build()?;
    spec.set_hostname(hostname);
    if !cfg.domainname.is_empty() {
        spec.set_domainname(Some(cfg.domainname.clone()));
    }
    // No hooks, no annotations: berth sets up networking itself, before create.
    spec.set_hooks(None);
    spec.set_annotations(None);
    Ok(BuiltSpec { spec, warnings })
}

#[cfg(test)]
mod tests;
