//! Containers that run again: `docker start` on an exited container, `docker restart`,
//! and the restart policies, in the runner and across a runner crash. Real docker CLI
//! against a real berthd; needs root and Debian's busybox-static like the other
//! container tests.

use std::path::Path;
use std::time::Duration;

use berth_testkit::{Berthd, docker_ok, eventually};

fn inspect(host: &str, name: &str, format: &str) -> String {
    docker_ok(host, &["inspect", name, "--format", format])
}

/// Waits until `name` shows `status` with `restarts` restarts behind it.
fn wait_for(host: &str, name: &str, status: &str, restarts: u32) {
    let want = format!("{status} {restarts}");
    eventually(
        &format!("{name} is {status} after {restarts} restarts"),
        Duration::from_secs(30),
        || (inspect(host, name, "{{.State.Status}} {{.RestartCount}}") == want).then_some(()),
    );
}

fn pid_of(host: &str, name: &str) -> i32 {
    inspect(host, name, "{{.State.Pid}}").parse().unwrap()
}

fn kill_process(pid: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eventually(
        &format!("process {pid} is gone"),
        Duration::from_secs(10),
        || (!Path::new(&format!("/proc/{pid}")).exists()).then_some(()),
    );
}

#[test]
fn start_runs_an_exited_container_again_on_the_same_root() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    // Each run appends to a file in the container's own root and prints the count.
    let script = "echo run >> /runs; wc -l < /runs";
    docker_ok(
        &host,
        &["run", "--name", "again", "busybox", "sh", "-c", script],
    );
    assert_eq!(docker_ok(&host, &["logs", "again"]), "1");

    docker_ok(&host, &["start", "again"]);
    assert_eq!(docker_ok(&host, &["wait", "again"]), "0");
    assert_eq!(
        docker_ok(&host, &["logs", "again"]),
        "1\n2",
        "the second run saw the first one's file, and its log went on"
    );
    assert_eq!(inspect(&host, "again", "{{.RestartCount}}"), "0");
    docker_ok(&host, &["rm", "again"]);
}

#[test]
fn start_attach_shows_the_next_run_from_its_first_byte() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(
        &host,
        &[
            "create",
            "-i",
            "--name",
            "echoer",
            "busybox",
            "sh",
            "-c",
            "echo hello; cat; exit 4",
        ],
    );
    // The first start from `created`, the second from `exited`: both attach before they
    // start, so the early `hello` is never lost.
    for run in 1..=2 {
        let mut child = berth_testkit::docker_command(&host)
            .args(["start", "-ai", "echoer"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("run {run}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(4),
            "{}",
            berth_testkit::printed(&out)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("hello\nrun {run}\n")
        );
    }
    docker_ok(&host, &["rm", "echoer"]);
}

#[test]
fn restart_stops_and_starts_a_running_container() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "svc",
            "-p",
            "8080",
            "busybox",
            "sh",
            "-c",
            "echo up; exec httpd -f -p 8080",
        ],
    );
    let before = pid_of(&host, "svc");
    docker_ok(&host, &["restart", "-t", "1", "svc"]);
    let after = pid_of(&host, "svc");
    assert_ne!(before, after, "a new process runs");
    assert!(!Path::new(&format!("/proc/{before}")).exists());
    assert_eq!(inspect(&host, "svc", "{{.State.Status}}"), "running");
    assert_eq!(
        inspect(&host, "svc", "{{.RestartCount}}"),
        "0",
        "restarts by hand do not count, as in Docker"
    );
    // The restarted container is back on the bridge with its port published.
    let port = docker_ok(&host, &["port", "svc", "8080"]);
    let addr = port.lines().next().unwrap().replace("0.0.0.0", "127.0.0.1");
    let reply = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://{addr}/"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&reply.stdout),
        "404",
        "httpd answers"
    );
    docker_ok(&host, &["rm", "-f", "svc"]);
}

#[test]
fn on_failure_restarts_until_the_limit() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "flaky",
            "--restart",
            "on-failure:2",
            "busybox",
            "sh",
            "-c",
            "echo run; exit 3",
        ],
    );
    // Three runs: the first and two restarts; the third exit is final.
    wait_for(&host, "flaky", "exited", 2);
    assert_eq!(docker_ok(&host, &["logs", "flaky"]), "run\nrun\nrun");
    assert_eq!(inspect(&host, "flaky", "{{.State.ExitCode}}"), "3");
    assert_eq!(
        inspect(
            &host,
            "flaky",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:2"
    );

    // A clean exit is no failure.
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "fine",
            "--restart",
            "on-failure",
            "busybox",
            "true",
        ],
    );
    assert_eq!(docker_ok(&host, &["wait", "fine"]), "0");
    assert_eq!(inspect(&host, "fine", "{{.RestartCount}}"), "0");
}

#[test]
fn always_restarts_what_dies_but_not_what_the_user_stops() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "keeper",
            "--restart",
            "always",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    kill_process(pid_of(&host, "keeper"));
    wait_for(&host, "keeper", "running", 1);

    docker_ok(&host, &["stop", "-t", "1", "keeper"]);
    assert_eq!(inspect(&host, "keeper", "{{.State.Status}}"), "exited");
    // docker start turns the policy back on.
    docker_ok(&host, &["start", "keeper"]);
    kill_process(pid_of(&host, "keeper"));
    wait_for(&host, "keeper", "running", 2);
    docker_ok(&host, &["rm", "-f", "keeper"]);
}

#[test]
fn policies_hold_across_a_runner_crash() {
    let mut berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    for (name, policy) in [
        ("always", "always"),
        ("unless", "unless-stopped"),
        ("never", "no"),
        ("always-stopped", "always"),
        ("unless-stopped", "unless-stopped"),
    ] {
        docker_ok(
            &host,
            &[
                "run",
                "-d",
                "--name",
                name,
                "--restart",
                policy,
                "busybox",
                "sleep",
                "1000",
            ],
        );
    }
    docker_ok(
        &host,
        &["stop", "-t", "0", "always-stopped", "unless-stopped"],
    );
    let pids: Vec<i32> = ["always", "unless", "never"]
        .iter()
        .map(|n| pid_of(&host, n))
        .collect();
    // The containers die while no runner watches them.
    berthd.crash_and_restart_after(|| pids.iter().for_each(|p| kill_process(*p)));

    // The runner serves at once and applies the policies as it re-adopts (issue #9,
    // finding 9): wait for the settled state.
    let settled = [
        "always running",
        "always-stopped running",
        "never exited",
        "unless running",
        "unless-stopped exited",
    ];
    eventually(
        "Docker's daemon-start policies settle: always comes back even after docker stop, \
         unless-stopped does not",
        std::time::Duration::from_secs(30),
        || {
            let states = docker_ok(&host, &["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
            let mut states: Vec<&str> = states.lines().collect();
            states.sort();
            (states == settled).then_some(())
        },
    );
    assert_eq!(inspect(&host, "always", "{{.RestartCount}}"), "1");
    assert_eq!(inspect(&host, "never", "{{.State.ExitCode}}"), "137");
    docker_ok(
        &host,
        &[
            "rm",
            "-f",
            "always",
            "unless",
            "never",
            "always-stopped",
            "unless-stopped",
        ],
    );
}

/// The daemon checks what a client other than the docker CLI (which checks too) may send.
#[test]
fn contradictory_restart_policies_are_refused_by_the_api() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let create = |host_config: &str| {
        let out = std::process::Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "--unix-socket"])
            .arg(berthd.socket())
            .args(["-H", "Content-Type: application/json", "-d"])
            .arg(format!(
                r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{host_config}}}"#
            ))
            .arg("http://localhost/v1.47/containers/create")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let answer = create(r#"{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}"#);
    assert!(
        answer.ends_with("\n400") && answer.contains("auto-remove"),
        "{answer}"
    );
    let answer = create(r#"{"RestartPolicy":{"Name":"always","MaximumRetryCount":3}}"#);
    assert!(
        answer.ends_with("\n400") && answer.contains("maximum retry count"),
        "{answer}"
    );
    let answer = create(r#"{"RestartPolicy":{"Name":"sometimes"}}"#);
    assert!(answer.ends_with("\n400"), "{answer}");
    assert_eq!(docker_ok(&host, &["ps", "-aq"]), "", "nothing was created");
}

#[test]
fn a_restarted_container_rejoins_its_networks_with_a_fresh_address() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(&host, &["network", "create", "rejoin"]);
    docker_ok(&host, &["network", "create", "later"]);
    for name in ["web", "peer"] {
        docker_ok(
            &host,
            &[
                "run",
                "-d",
                "--name",
                name,
                "--network",
                "rejoin",
                "busybox",
                "sleep",
                "1000",
            ],
        );
    }
    docker_ok(&host, &["stop", "-t", "0", "web"]);
    // A network joined while stopped is wired when it starts again.
    docker_ok(&host, &["network", "connect", "later", "web"]);
    docker_ok(&host, &["start", "web"]);
    let networks = inspect(
        &host,
        "web",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}",
    );
    assert!(
        networks.contains("later=") && !networks.contains("later= "),
        "{networks}"
    );
    let ifaces = docker_ok(&host, &["exec", "web", "ls", "/sys/class/net"]);
    assert!(ifaces.contains("eth1"), "{ifaces}");
    // Its peer reaches it by name at its new address.
    docker_ok(
        &host,
        &["exec", "peer", "ping", "-c", "1", "-W", "5", "web"],
    );
    docker_ok(&host, &["restart", "-t", "0", "web"]);
    docker_ok(
        &host,
        &["exec", "peer", "ping", "-c", "1", "-W", "5", "web"],
    );
    docker_ok(&host, &["rm", "-f", "web", "peer"]);
    docker_ok(&host, &["network", "rm", "rejoin", "later"]);
}
