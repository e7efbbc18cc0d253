//! Issue #9, finding 7: crash safety. A container whose supervisor dies must not go on
//! unsupervised while `docker ps` says "Up": killing its `berth-monitor` ends it, as
//! Docker ends a container whose containerd-shim died, and `docker inspect` says why.
//! And `kill -9` of berthd in the middle of creates must leave nothing without a record
//! once it is back: no process, mount, cgroup, directory or anonymous volume.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use berth_testkit::{Berthd, docker, docker_ok, eventually};

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

/// The container IDs (64 hex) named by the entries of `dir`.
fn ids_in(dir: &std::path::Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
                .collect()
        })
        .unwrap_or_default()
}

/// IDs of containers that something of this berthd's still exists for: runtime state,
/// a container directory, a mount, a process naming its state directory, a cgroup.
fn traces(berthd: &Berthd) -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let runner = berthd.data_root().join("runner");
    for id in ids_in(&runner.join("runtime")) {
        found.entry(id).or_default().push("runtime state".into());
    }
    for id in ids_in(&runner.join("containers")) {
        found
            .entry(id)
            .or_default()
            .push("container directory".into());
    }
    let containers = runner.join("containers").display().to_string();
    let runtime = runner.join("runtime").display().to_string();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for line in mountinfo.lines() {
        let Some(point) = line.split(' ').nth(4) else {
            continue;
        };
        if let Some(rest) = point.strip_prefix(&format!("{containers}/")) {
            let id: String = rest.chars().take(64).collect();
            found.entry(id).or_default().push(format!("mount {point}"));
        }
    }
    for pid in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(pid.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if let Some(at) = cmdline.find(&format!("{runtime}/")) {
            let id: String = cmdline[at + runtime.len() + 1..].chars().take(64).collect();
            found
                .entry(id)
                .or_default()
                .push(format!("process {cmdline}"));
        }
    }
    for controller in ["pids", "memory", "cpu,cpuacct", "freezer", "devices"] {
        let parent = berthd.cgroup_dir(controller, "");
        for id in ids_in(&parent) {
            found
                .entry(id)
                .or_default()
                .push(format!("{controller} cgroup"));
        }
    }
    found
}

#[test]
fn kill_9_during_concurrent_creates_leaves_nothing_without_a_record() {
    let mut berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let runtime = berthd.data_root().join("runner/runtime");
    let creates: Vec<_> = (0..8)
        .map(|_| {
            let host = host.clone();
            std::thread::spawn(move || {
                docker(
                    &host,
                    &["run", "-d", "-v", "/data", "busybox", "sleep", "600"],
                )
            })
        })
        .collect();
    // Crash as soon as the runtime is making the first container: the others are at
    // every stage of their create.
    eventually(
        "a create reaches the runtime",
        Duration::from_secs(30),
        || (!ids_in(&runtime).is_empty()).then_some(()),
    );
    berthd.crash_and_restart();
    for c in creates {
        let _ = c.join();
    }
    let recorded: BTreeSet<String> = docker_ok(&host, &["ps", "-aq", "--no-trunc"])
        .lines()
        .map(str::to_owned)
        .collect();
    let orphans: BTreeMap<String, Vec<String>> = traces(&berthd)
        .into_iter()
        .filter(|(id, _)| !recorded.contains(id))
        .collect();
    assert!(orphans.is_empty(), "left without a record: {orphans:#?}");
    // And the recorded ones work: each can be removed, taking all of it along.
    for id in &recorded {
        docker_ok(&host, &["rm", "-f", "-v", id]);
    }
    let left = traces(&berthd);
    assert!(left.is_empty(), "left after rm -f: {left:#?}");
    // Every anonymous volume belonged to a recorded container, gone with it; none
    // outlives the create that made it.
    let volumes = docker_ok(&host, &["volume", "ls", "-q"]);
    assert!(
        volumes.is_empty(),
        "volumes of unfinished creates: {volumes}"
    );
}
