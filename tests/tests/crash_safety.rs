//! Issue #9, finding 7: a container whose supervisor dies must not go on unsupervised
//! while `docker ps` says "Up". Killing its `berth-monitor` ends it, as Docker ends a
//! container whose containerd-shim died, and `docker inspect` says why.

use std::time::Duration;

use berth_testkit::{Berthd, docker_ok, eventually};

#[test]
fn a_killed_monitor_ends_its_container_and_inspect_says_why() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let id = docker_ok(&host, &["run", "-d", "busybox", "sleep", "600"]);
    let pid: i32 = docker_ok(&host, &["inspect", "-f", "{{.State.Pid}}", &id])
        .parse()
        .unwrap();
    let monitor_pid_file = berthd
        .data_root()
        .join("runner/runtime")
        .join(&id)
        .join("monitor.pid");
    let monitor: i32 = std::fs::read_to_string(&monitor_pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();

    eventually("docker ps stops saying Up", Duration::from_secs(5), || {
        let ps = docker_ok(&host, &["ps", "-a", "--format", "{{.ID}} {{.Status}}"]);
        (!ps.contains("Up")).then_some(())
    });
    // Gone, or a zombie its new parent has yet to reap: no longer running.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(
        status.is_empty() || status.contains("State:\tZ"),
        "the unsupervised container still runs: {status}"
    );
    let state = docker_ok(
        &host,
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}",
            &id,
        ],
    );
    assert!(state.starts_with("exited 137 "), "{state}");
    assert!(state.contains("berth-monitor"), "{state}");
    // It can run again, supervised.
    docker_ok(&host, &["start", &id]);
    assert_eq!(
        docker_ok(
            &host,
            &["inspect", "-f", "{{.State.Status}} {{.State.Error}}", &id]
        ),
        "running"
    );
    docker_ok(&host, &["rm", "-f", &id]);
}
