//! The real docker CLI, pointed at a berth gateway.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::require_tool;

/// How long one CLI call may take before the test calls it a hang.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// A `docker` command against `host`, with a private client config so the user's own
/// contexts and credentials never leak in.
pub fn docker_command(host: &str) -> Command {
    let mut cmd = Command::new(require_tool("docker", "docker.io"));
    cmd.arg("-H")
        .arg(host)
        .env(
            "DOCKER_CONFIG",
            std::env::temp_dir().join("berth-test-docker-config"),
        )
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT");
    cmd
}

/// Runs `docker -H host args...` to completion; a CLI that hangs fails the test instead of
/// hanging it.
pub fn docker(host: &str, args: &[&str]) -> Output {
    let child = docker_command(host)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start docker");
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = Pid::from_raw(child.id() as i32);
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send(());
        out
    });
    if rx.recv_timeout(CLI_TIMEOUT).is_err() {
        let _ = kill(pid, Signal::SIGKILL);
        panic!("docker {args:?} hung for {CLI_TIMEOUT:?}");
    }
    waiter
        .join()
        .expect("waiter thread")
        .expect("docker output")
}

/// Everything the CLI printed, stdout then stderr, for assertions and failure messages.
pub fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `docker -H host args...`, asserts it succeeded, and returns its trimmed stdout.
pub fn docker_ok(host: &str, args: &[&str]) -> String {
    let out = docker(host, args);
    assert!(
        out.status.success(),
        "docker {args:?} failed:\n{}",
        printed(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `docker -H host args...`, asserts it failed, and returns all it printed.
pub fn docker_fails(host: &str, args: &[&str]) -> String {
    let out = docker(host, args);
    assert!(
        !out.status.success(),
        "docker {args:?} should fail:\n{}",
        printed(&out)
    );
    printed(&out)
}

/// A time as `docker events --since/--until` takes it: Unix seconds with nanoseconds.
pub fn events_time(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// `docker events` between two times (from [`events_time`]) with `filters`
/// (`type=network`, ...), each event printed with the Go template `format`.
pub fn events_between(
    host: &str,
    since: &str,
    until: &str,
    filters: &[&str],
    format: &str,
) -> String {
    let mut args = vec!["events", "--since", since, "--until", until];
    for filter in filters {
        args.extend(["--filter", filter]);
    }
    args.extend(["--format", format]);
    docker_ok(host, &args)
}
