//! berth on a cgroup v2 host. This machine is hybrid (v1 controllers, a v2 hierarchy
//! beside them), so berthd runs in a mount namespace whose /sys/fs/cgroup is the unified
//! hierarchy alone: libcgroups then sees a pure v2 host. Needs root and busybox-static.
//!
//! What this proves on v2: cgroups made below the configured parent and removed with the
//! container, processes placed in them, pause through `cgroup.freeze`, stats from v2
//! files, and Docker's warnings for limits whose controller the host does not offer
//! (here, every controller but hugetlb is bound to v1). Limits that do apply on v2
//! (memory.max, cpu.weight, pids.max) need a host where those controllers are on v2;
//! the v1 tests cover them here.

use berth_testkit::{Berthd, CgroupView, busybox_archive, docker, docker_ok, printed};

fn berthd_on_v2() -> Berthd {
    let berthd = Berthd::start_in(CgroupView::UnifiedOnly, &[]);
    let image = busybox_archive(berthd.dir(), "busybox:latest");
    docker_ok(
        &berthd.docker_host(),
        &["load", "-i", &image.path.display().to_string()],
    );
    berthd
}

#[test]
fn containers_live_in_v2_cgroups_below_the_parent() {
    let berthd = berthd_on_v2();
    let host = berthd.docker_host();
    assert_eq!(
        docker_ok(&host, &["info", "--format", "{{.CgroupVersion}}"]),
        "2"
    );
    let out = docker(&host, &["run", "--rm", "busybox", "echo", "hi"]);
    assert!(out.status.success(), "{}", printed(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");

    let id = docker_ok(&host, &["run", "-d", "busybox", "sleep", "1000"]);
    let pid = docker_ok(&host, &["inspect", &id, "--format", "{{.State.Pid}}"]);
    let dir = berthd.cgroup_dir("", &id);
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|p| p == pid),
        "the container's init is in {}: {procs}",
        dir.display()
    );

    docker_ok(&host, &["pause", &id]);
    assert_eq!(
        std::fs::read_to_string(dir.join("cgroup.freeze"))
            .unwrap()
            .trim(),
        "1"
    );
    assert_eq!(
        docker_ok(&host, &["inspect", &id, "--format", "{{.State.Status}}"]),
        "paused"
    );
    docker_ok(&host, &["unpause", &id]);
    assert_eq!(
        std::fs::read_to_string(dir.join("cgroup.freeze"))
            .unwrap()
            .trim(),
        "0"
    );

    // CPU time comes from cpu.stat, which v2 keeps without any controller.
    let stats = docker_ok(
        &host,
        &["stats", "--no-stream", "--format", "{{.CPUPerc}}", &id],
    );
    assert!(stats.ends_with('%'), "{stats}");

    docker_ok(&host, &["rm", "-f", &id]);
    assert!(!dir.exists(), "the cgroup went with the container");
}

#[test]
fn limits_without_a_v2_controller_are_warned_about_and_dropped() {
    let berthd = berthd_on_v2();
    let host = berthd.docker_host();
    let out = docker(
        &host,
        &["run", "--rm", "--memory", "64m", "busybox", "echo", "ran"],
    );
    assert!(out.status.success(), "{}", printed(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does not support memory limit"),
        "Docker's warning for a missing memory controller: {stderr}"
    );
}
