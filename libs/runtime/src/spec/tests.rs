//! Unit tests of the spec builder; no root needed.

use std::collections::HashSet;

use oci_spec::runtime::{Capability, LinuxNamespaceType, PosixRlimitType};

use super::*;
use crate::cgroups::{CgroupVersion, HostSupport};
use crate::config::{NetworkMode, Resources, Ulimit};

fn rootfs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("etc/group"),
        "root:x:0:\nnogroup:x:65534:\n",
    )
    .unwrap();
    dir
}

fn limit_20000(_: PosixRlimitType) -> Option<u64> {
    Some(20000)
}

fn try_build(cfg: &ContainerConfig, host: &HostSupport) -> Result<BuiltSpec> {
    let root = rootfs();
    let ctx = SpecContext {
        id: "0123456789abcdef0123",
        rootfs: root.path(),
        cgroups_path: "/berth/0123456789abcdef0123",
        host,
        bounding: crate::spec::capabilities::up_to(40),
        hard_limit: limit_20000,
        nofile_hard: 20000,
    };
    build(cfg, &ctx)
}

fn build_with(cfg: &ContainerConfig, host: &HostSupport) -> BuiltSpec {
    try_build(cfg, host).unwrap()
}

fn cfg(args: &[&str]) -> ContainerConfig {
    ContainerConfig {
        args: args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn process_gets_dockers_defaults() {
    let spec = build_with(&cfg(&["echo", "hi"]), &HostSupport::all()).spec;
    let p = spec.process().as_ref().unwrap();
    assert_eq!(
        p.args().as_ref().unwrap(),
        &vec!["echo".to_string(), "hi".to_string()]
    );
    let env = p.env().as_ref().unwrap();
    assert_eq!(env[0], format!("PATH={DEFAULT_PATH}"));
    assert!(env.contains(&"HOSTNAME=0123456789ab".to_string()));
    assert!(env.contains(&"HOME=/root".to_string()));
    assert_eq!(p.cwd().to_str(), Some("/"));
    assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
    assert_eq!(p.no_new_privileges(), None);
    let caps = p.capabilities().as_ref().unwrap();
    assert_eq!(caps.bounding().as_ref().unwrap().len(), 14);
    assert!(
        caps.effective()
            .as_ref()
            .unwrap()
            .contains(&Capability::NetRaw)
    );
    assert!(caps.inheritable().is_none() && caps.ambient().is_none());
    assert_eq!(spec.hostname().as_deref(), Some("0123456789ab"));
}

#[test]
fn env_user_cwd_tty_and_hostname() {
    let mut c = cfg(&["id"]);
    c.env = vec!["PATH=/bin".into(), "FOO=bar".into()];
    c.user = "nobody".into();
    c.working_dir = "/tmp".into();
    c.tty = true;
    c.hostname = "web".into();
    let spec = build_with(&c, &HostSupport::all()).spec;
    let p = spec.process().as_ref().unwrap();
    let env = p.env().as_ref().unwrap();
    assert_eq!(
        env,
        &vec![
            "PATH=/bin",
            "HOSTNAME=web",
            "TERM=xterm",
            "FOO=bar",
            "HOME=/home"
        ]
    );
    assert_eq!((p.user().uid(), p.user().gid()), (65534, 65534));
    assert_eq!(p.user().additional_gids().as_ref().unwrap(), &vec![65534]);
    assert_eq!(p.terminal(), Some(true));
    assert_eq!(p.cwd().to_str(), Some("/tmp"));
    assert_eq!(spec.hostname().as_deref(), Some("web"));
}

#[test]
fn namespaces_follow_network_mode_and_cgroup_version() {
    let kinds = |spec: &Spec| -> HashSet<LinuxNamespaceType> {
        spec.linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| n.typ())
            .collect()
    };
    let v1 = HostSupport::all();
    let s = build_with(&cfg(&["true"]), &v1).spec;
    assert_eq!(kinds(&s).len(), 5);
    assert!(kinds(&s).contains(&LinuxNamespaceType::Network));
    let mut host = cfg(&["true"]);
    host.network = NetworkMode::Host;
    let s = build_with(&host, &v1).spec;
    assert!(!kinds(&s).contains(&LinuxNamespaceType::Network));
    assert_eq!(s.hostname(), &None, "host networking keeps the host's name");
    let v2 = HostSupport {
        version: CgroupVersion::V2,
        ..HostSupport::all()
    };
    assert!(kinds(&build_with(&cfg(&["true"]), &v2).spec).contains(&LinuxNamespaceType::Cgroup));
}

#[test]
fn security_defaults_and_privileged() {
    let s = build_with(&cfg(&["true"]), &HostSupport::all()).spec;
    let linux = s.linux().as_ref().unwrap();
    assert!(
        linux
            .masked_paths()
            .as_ref()
            .unwrap()
            .contains(&"/proc/kcore".to_string())
    );
    assert!(
        linux
            .readonly_paths()
            .as_ref()
            .unwrap()
            .contains(&"/proc/sys".to_string())
    );
    assert!(linux.seccomp().is_some());
    let host = HostSupport {
        v1_hierarchies: vec!["memory".into()],
        ..HostSupport::all()
    };
    let s = build_with(&cfg(&["true"]), &host).spec;
    let ro = s
        .linux()
        .as_ref()
        .unwrap()
        .readonly_paths()
        .clone()
        .unwrap();
    assert!(
        ro.contains(&"/sys/fs/cgroup/memory".to_string()),
        "v1 hierarchies are made read-only: {ro:?}"
    );
    assert_eq!(
        linux.cgroups_path().as_ref().unwrap().to_str(),
        Some("/berth/0123456789abcdef0123")
    );

    let mut p = cfg(&["true"]);
    p.privileged = true;
    let s = build_with(&p, &HostSupport::all()).spec;
    let linux = s.linux().as_ref().unwrap();
    assert!(linux.seccomp().is_none() && linux.masked_paths().is_none());
    let caps = s
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .as_ref()
        .unwrap();
    assert_eq!(caps.bounding().as_ref().unwrap().len(), 41);

    let mut n = cfg(&["true"]);
    n.no_new_privileges = true;
    let s = build_with(&n, &HostSupport::all()).spec;
    assert_eq!(
        s.process().as_ref().unwrap().no_new_privileges(),
        Some(true)
    );
}

#[test]
fn resources_and_warnings_reach_the_spec() {
    let mut c = cfg(&["true"]);
    c.resources = Resources {
        memory: 200 << 20,
        memory_swap: 1 << 30,
        cpu_shares: 1024,
        pids_limit: 20,
        ..Default::default()
    };
    let built = build_with(
        &c,
        &HostSupport {
            swap: false,
            ..HostSupport::all()
        },
    );
    assert_eq!(built.warnings, vec![resources::WARN_NO_SWAP.to_string()]);
    let res = built
        .spec
        .linux()
        .as_ref()
        .unwrap()
        .resources()
        .clone()
        .unwrap();
    assert_eq!(res.memory().as_ref().unwrap().limit(), Some(200 << 20));
    assert_eq!(res.cpu().as_ref().unwrap().shares(), Some(1024));
}

#[test]
fn rlimits_above_the_hard_limit_are_refused() {
    let mut c = cfg(&["true"]);
    c.ulimits = vec![Ulimit {
        name: "nofile".into(),
        soft: 1024,
        hard: 65536,
    }];
    let e = try_build(&c, &HostSupport::all()).unwrap_err().to_string();
    assert!(e.contains("ulimit nofile") && e.contains("20000"), "{e}");
    c.ulimits[0].hard = 20000;
    let built = build_with(&c, &HostSupport::all());
    let r = &built
        .spec
        .process()
        .as_ref()
        .unwrap()
        .rlimits()
        .as_ref()
        .unwrap()[0];
    assert_eq!(
        (r.typ(), r.soft(), r.hard()),
        (PosixRlimitType::RlimitNofile, 1024, 20000)
    );
}

fn nofile(built: &BuiltSpec) -> Vec<(u64, u64)> {
    built
        .spec
        .process()
        .as_ref()
        .unwrap()
        .rlimits()
        .iter()
        .flatten()
        .filter(|r| r.typ() == PosixRlimitType::RlimitNofile)
        .map(|r| (r.soft(), r.hard()))
        .collect()
}

#[test]
fn containers_get_dockers_open_file_limits_not_the_daemons_raised_one() {
    let built = build_with(&cfg(&["true"]), &HostSupport::all());
    assert_eq!(nofile(&built), vec![(1024, 20000)]);
    // A daemon whose hard limit is below 1024 gives no more than it has.
    let root = rootfs();
    let host = HostSupport::all();
    let ctx = SpecContext {
        id: "x",
        rootfs: root.path(),
        cgroups_path: "/x",
        host: &host,
        bounding: crate::spec::capabilities::up_to(40),
        hard_limit: limit_20000,
        nofile_hard: 512,
    };
    assert_eq!(
        nofile(&build(&cfg(&["true"]), &ctx).unwrap()),
        vec![(512, 512)]
    );
    // --ulimit nofile replaces the default rather than adding a second entry.
    let mut c = cfg(&["true"]);
    c.ulimits = vec![Ulimit {
        name: "NOFILE".into(),
        soft: 100,
        hard: 200,
    }];
    assert_eq!(
        nofile(&build_with(&c, &HostSupport::all())),
        vec![(100, 200)]
    );
}

#[test]
fn no_device_filter_withholds_mknod() {
    let built = build_with(
        &cfg(&["true"]),
        &HostSupport {
            device_filter: false,
            ..HostSupport::all()
        },
    );
    let caps = built
        .spec
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .as_ref()
        .unwrap();
    assert!(
        !caps
            .bounding()
            .as_ref()
            .unwrap()
            .contains(&Capability::Mknod)
    );
    assert_eq!(built.warnings.len(), 1);
}

#[test]
fn bad_configs_say_what_to_do() {
    let root = rootfs();
    let host = HostSupport::all();
    let ctx = SpecContext {
        id: "x",
        rootfs: root.path(),
        cgroups_path: "/x",
        host: &host,
        bounding: crate::spec::capabilities::up_to(40),
        hard_limit: limit_20000,
        nofile_hard: 20000,
    };
    assert!(
        build(&cfg(&[]), &ctx)
            .unwrap_err()
            .to_string()
            .contains("no command")
    );
    let mut u = cfg(&["true"]);
    u.user = "ghost".into();
    assert!(
        build(&u, &ctx)
            .unwrap_err()
            .to_string()
            .contains("unable to find user ghost")
    );
    let mut w = cfg(&["true"]);
    w.working_dir = "rel".into();
    assert!(build(&w, &ctx).is_err());
}

#[test]
fn spec_round_trips_through_json() {
    let spec = build_with(&cfg(&["true"]), &HostSupport::all()).spec;
    let text = serde_json::to_string(&spec).unwrap();
    let back: Spec = serde_json::from_str(&text).unwrap();
    assert_eq!(back, spec);
}

#[test]
fn host_namespaces_custom_seccomp_sysctls_and_devices() {
    let mut c = cfg(&["true"]);
    c.pid_host = true;
    c.ipc_host = true;
    c.sysctls.insert("net.ipv4.ip_forward".into(), "1".into());
    c.devices.push(crate::config::Device {
        host_path: "/dev/null".into(),
        container_path: "/dev/mynull".into(),
        permissions: "rwm".into(),
    });
    c.seccomp_profile = Some(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#
            .into(),
    );
    let spec = build_with(&c, &HostSupport::all()).spec;
    let linux = spec.linux().as_ref().unwrap();
    let types: Vec<_> = linux
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.typ())
        .collect();
    assert!(!types.contains(&LinuxNamespaceType::Pid));
    assert!(!types.contains(&LinuxNamespaceType::Ipc));
    assert!(types.contains(&LinuxNamespaceType::Mount));
    assert_eq!(
        linux.sysctl().as_ref().unwrap().get("net.ipv4.ip_forward"),
        Some(&"1".to_string())
    );
    assert_eq!(linux.devices().as_ref().unwrap().len(), 1);
    let rules = linux
        .resources()
        .as_ref()
        .unwrap()
        .devices()
        .as_ref()
        .unwrap();
    assert!(rules.last().unwrap().allow());
    let seccomp = linux.seccomp().as_ref().unwrap();
    assert_eq!(
        seccomp.default_action(),
        oci_spec::runtime::LinuxSeccompAction::ScmpActAllow
    );
    let shm = spec
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.destination().to_str() == Some("/dev/shm"))
        .unwrap();
    assert_eq!(shm.typ().as_deref(), Some("bind"));

    c.privileged = true;
    assert!(try_build(&c, &HostSupport::all()).is_err());
}
