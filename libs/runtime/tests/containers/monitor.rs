//! The monitor outlives whoever started the container, records the exit, and stays small.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_runtime::Status;

use crate::support::{TestEnv, monitor_binary};

fn status_kib(pid: i32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find(|l| l.starts_with(field))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

fn rollup_kib(pid: i32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    text.lines()
        .filter(|l| l.starts_with(field))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn the_container_survives_the_death_of_its_starter() {
    let env = TestEnv::new("survive");
    let run = monitor_binary().parent().unwrap().join("run");
    let id = "survivor";
    let mut starter = Command::new(&run)
        .args([
            "--root",
            env.runtime.root().to_str().unwrap(),
            "--rootfs",
            env.rootfs.to_str().unwrap(),
            "--id",
            id,
        ])
        .args([
            "--cgroup-parent",
            &env.cgroup_parent,
            "--monitor",
            monitor_binary().to_str().unwrap(),
        ])
        .args(["--", "sh", "-c", "sleep 2; exit 7"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(starter.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("created survivor "), "{line}");
    // Give the starter time to call start, then kill it without warning.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while env.runtime.state(id).unwrap().status != Status::Running
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    starter.kill().unwrap();
    starter.wait().unwrap();
    let st = env.runtime.state(id).unwrap();
    assert_eq!(
        st.status,
        Status::Running,
        "the container must outlive its starter"
    );
    assert!(st.monitor_alive);

    let monitor_pid: i32 =
        std::fs::read_to_string(env.runtime.state_dir(id).unwrap().join("monitor.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    let rss = status_kib(monitor_pid, "VmRSS:");
    // Text pages are shared by every monitor; what a container really costs is the
    // monitor's anonymous (heap, stack) memory.
    let anon = rollup_kib(monitor_pid, "Anonymous:");
    let dirty = rollup_kib(monitor_pid, "Private_Dirty:");
    eprintln!("berth-monitor: RSS {rss} KiB, anonymous {anon} KiB, private dirty {dirty} KiB");
    assert!(
        anon < 4096,
        "the monitor uses {anon} KiB of anonymous memory"
    );

    let exit = env.runtime.wait(id, Some(Duration::from_secs(30))).unwrap();
    assert_eq!(exit.exit_code, 7);
    let on_disk: berth_runtime::ExitRecord = serde_json::from_slice(
        &std::fs::read(env.runtime.state_dir(id).unwrap().join("exit.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(on_disk.exit_code, 7);
    env.runtime.delete(id, false).unwrap();
}

/// A container killed before it was ever started: the init dies while berth-spawn still
/// waits to start it, and still reaches the monitor, which records the exit.
#[test]
fn a_container_killed_before_start_is_reaped_and_recorded() {
    let mut env = TestEnv::new("unstarted");
    let h = env.create(&TestEnv::config(&["sleep", "1000"]));
    assert_eq!(env.runtime.state(&h.id).unwrap().status, Status::Created);
    env.runtime.kill(&h.id, 9).unwrap();
    let exit = env
        .runtime
        .wait(&h.id, Some(Duration::from_secs(20)))
        .expect("the monitor records the exit of a container that never started");
    assert_eq!(exit.exit_code, 137);
    let st = env.runtime.state(&h.id).unwrap();
    assert_eq!(st.status, Status::Exited);
    assert!(
        !std::path::Path::new(&format!("/proc/{}", h.pid)).exists(),
        "the init was reaped"
    );
}
