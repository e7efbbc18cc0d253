//! cgroup limits applied to real containers: memory, memory+swap, CPU shares, pids; the
//! OOM killer; a fork bomb against a pids limit; and cgroup removal on delete.

use std::time::Duration;

use berth_runtime::cgroups::{CgroupDirs, CgroupVersion, HostSupport};
use berth_runtime::{Resources, Status};

use crate::support::TestEnv;

const MB: i64 = 1 << 20;

#[test]
fn limits_reach_the_cgroup_files_and_the_cgroup_goes_on_delete() {
    let mut env = TestEnv::new("limits");
    let mut cfg = TestEnv::config(&["sleep", "30"]);
    cfg.resources = Resources {
        memory: 200 * MB,
        memory_swap: 1024 * MB,
        cpu_shares: 1024,
        pids_limit: 20,
        ..Default::default()
    };
    let h = env.create(&cfg);
    env.runtime.start(&h.id).unwrap();
    assert_eq!(env.runtime.state(&h.id).unwrap().status, Status::Running);
    let host = HostSupport::detect();
    let dirs = CgroupDirs::new(&h.cgroups_path);
    match dirs.version {
        CgroupVersion::V1 => {
            assert_eq!(
                dirs.read("memory", "memory.limit_in_bytes").unwrap(),
                (200 * MB).to_string()
            );
            if host.swap {
                assert_eq!(
                    dirs.read("memory", "memory.memsw.limit_in_bytes").unwrap(),
                    (1024 * MB).to_string()
                );
                assert!(h.warnings.is_empty(), "{:?}", h.warnings);
            } else {
                assert!(
                    h.warnings
                        .iter()
                        .any(|w| w.contains("swap limit capabilities")),
                    "{:?}",
                    h.warnings
                );
            }
            assert_eq!(dirs.read("cpu", "cpu.shares").unwrap(), "1024");
            assert_eq!(dirs.read("pids", "pids.max").unwrap(), "20");
        }
        CgroupVersion::V2 => {
            assert_eq!(dirs.read("", "memory.max").unwrap(), (200 * MB).to_string());
            if host.swap {
                assert_eq!(
                    dirs.read("", "memory.swap.max").unwrap(),
                    (824 * MB).to_string()
                );
            }
            let weight: u64 = dirs.read("", "cpu.weight").unwrap().parse().unwrap();
            assert!(weight > 1, "cpu.weight {weight}");
            assert_eq!(dirs.read("", "pids.max").unwrap(), "20");
        }
    }
    let stats = env.runtime.stats(&h.id).unwrap();
    assert_eq!(stats.memory_limit, Some(200 * 1024 * 1024));
    assert!(stats.pids_current >= 1);

    env.runtime.delete(&h.id, true).unwrap();
    for (controller, dir) in &dirs.dirs {
        assert!(
            !dir.exists(),
            "{controller} cgroup {} survived the delete",
            dir.display()
        );
    }
}

#[test]
fn a_memory_hog_is_oom_killed_with_137() {
    let mut env = TestEnv::new("oom");
    let mut cfg = TestEnv::config(&[
        "sh",
        "-c",
        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    cfg.resources = Resources {
        memory: 32 * MB,
        memory_swap: 32 * MB,
        ..Default::default()
    };
    let (code, oom, out) = env.run(&cfg);
    assert_eq!((code, oom), (137, true), "output: {out}");
    let id = env.runtime.list().unwrap().pop().unwrap();
    let st = env.runtime.state(&id).unwrap();
    assert_eq!(
        (st.status, st.exit_code, st.oom_killed),
        (Status::Exited, Some(137), true)
    );
}

#[test]
fn a_pids_limit_stops_a_fork_bomb() {
    let mut env = TestEnv::new("forkbomb");
    // The inner shell forks until it cannot and dies of it; the container's init lives on.
    let script = "sh -c 'while true; do sleep 30 & done'; echo survived; exec sleep 30";
    let mut cfg = TestEnv::config(&["sh", "-c", script]);
    cfg.resources = Resources {
        pids_limit: 20,
        ..Default::default()
    };
    let h = env.create(&cfg);
    env.runtime.start(&h.id).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut out = String::new();
    while !out.contains("survived") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        out = crate::support::log_text(&h.log_path);
    }
    assert!(out.contains("survived"), "{out}");
    assert!(out.contains("can't fork"), "forks should fail: {out}");
    assert_eq!(env.runtime.state(&h.id).unwrap().status, Status::Running);
    let stats = env.runtime.stats(&h.id).unwrap();
    assert_eq!(stats.pids_limit, Some(20));
    assert!(stats.pids_current <= 20, "{} pids", stats.pids_current);
}
