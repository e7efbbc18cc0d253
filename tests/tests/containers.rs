//! Containers through the real docker CLI against berthd: run in the foreground and in
//! the background, exit codes, stdin, logs, wait, stop, rm, ps, inspect, cgroup limits,
//! OOM kills. Needs root (namespaces, mounts, cgroups), the docker CLI and Debian's
//! busybox-static; each test has its own berthd, data root and cgroup parent.

use std::io::Write;
use std::process::{Command, Stdio};

use berth_testkit::{Berthd, docker, docker_command, docker_ok, printed};

#[test]
fn run_prints_output_and_returns_the_exit_code() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let out = docker(&host, &["run", "--rm", "busybox", "echo", "hi"]);
    assert!(out.status.success(), "{}", printed(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");

    let out = docker(
        &host,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo to-err >&2; exit 3",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", printed(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "to-err\n",
        "stderr stays stderr"
    );
    assert!(out.stdout.is_empty());

    // --rm removed both.
    assert_eq!(docker_ok(&host, &["ps", "-aq"]), "");
}

#[test]
fn stdin_reaches_the_container_and_its_end_ends_it() {
    let berthd = Berthd::with_busybox();
    let mut child = docker_command(&berthd.docker_host())
        .args([
            "run",
            "--rm",
            "-i",
            "busybox",
            "sh",
            "-c",
            "tr a-z A-Z; echo done",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello\nworld\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO\nWORLD\ndone\n");
}

/// Runs a shell command line under `script`, which gives it a real terminal, as a
/// user's shell would.
fn in_terminal(command_line: &str) -> std::process::Output {
    Command::new("script")
        .args(["-qec", command_line, "/dev/null"])
        .env(
            "DOCKER_CONFIG",
            std::env::temp_dir().join("berth-test-docker-config"),
        )
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_terminal_works_with_run_it() {
    let berthd = Berthd::with_busybox();
    // `script` gives the CLI a real terminal, as a user's shell would.
    let out = in_terminal(&format!(
        "docker -H {} run --rm -it busybox sh -c 'tty; echo exit-$((1+1))'",
        berthd.docker_host()
    ));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("/dev/pts/"),
        "the process has a terminal: {shown:?}"
    );
    assert!(shown.contains("exit-2"), "{shown:?}");
}

/// What a user types into `run -it` reaches the container byte for byte, with nothing
/// before it: the container reads its first four bytes of input and prints them in hex.
/// The outer terminal's stdin stays open for the whole run: `script` reading an empty
/// stdin writes its EOF character while the CLI's terminal is still canonical, and the
/// kernel hands that pending EOF to the CLI as a NUL byte once the CLI makes the terminal
/// raw, so a harness with a closed stdin sees a `^@` that no user ever typed.
#[test]
fn run_it_delivers_exactly_what_the_terminal_types() {
    use std::io::Read;
    let berthd = Berthd::with_busybox();
    let mut child = Command::new("script")
        .args([
            "-qec",
            &format!(
                "docker -H {} run --rm -it busybox sh -c 'head -c 4 | od -An -tx1'",
                berthd.docker_host()
            ),
            "/dev/null",
        ])
        .env(
            "DOCKER_CONFIG",
            std::env::temp_dir().join("berth-test-docker-config"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut typing = child.stdin.take().unwrap();
    typing.write_all(b"xyz\n").unwrap();
    let mut shown = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut shown)
        .unwrap();
    drop(typing);
    assert!(child.wait().unwrap().success(), "{shown:?}");
    let received = shown
        .lines()
        .find(|l| l.trim_start().starts_with(|c: char| c.is_ascii_hexdigit()) && l.contains(' '))
        .map(str::trim)
        .unwrap_or_default();
    assert_eq!(received, "78 79 7a 0a", "the container received: {shown:?}");
    assert!(!shown.contains("^@"), "{shown:?}");
}

/// The CLI sizes the container's terminal (and an exec's) to its own: `stty` inside sees
/// the rows and columns the outer terminal has. The script inside reports the size once it
/// is set, whether the resize came before it looked or after (SIGWINCH).
#[test]
fn terminals_take_the_size_of_the_clients() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(
        &host,
        &["run", "-d", "--name", "sized", "busybox", "sleep", "1000"],
    );
    let report = r#"sh -c 'trap "stty size; exit 0" WINCH; s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] && { echo $s; exit; }; sleep 30 & wait; echo no resize came'"#;
    for how in ["run --rm -it busybox", "exec -it sized"] {
        let out = in_terminal(&format!(
            "stty rows 33 cols 111; docker -H {host} {how} {report}"
        ));
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{how}: {}: {shown}", out.status);
        assert!(shown.contains("33 111"), "{how}: {shown:?}");
    }
    docker_ok(&host, &["rm", "-f", "sized"]);
}

#[test]
fn detached_containers_log_wait_list_and_remove() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    // It runs until told to stop, then says goodbye: no guessing how long anything takes.
    let id = docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "worker",
            "--label",
            "role=test",
            "busybox",
            "sh",
            "-c",
            "echo one; echo two >&2; trap 'echo three; exit 0' TERM; while :; do sleep 0.1; done",
        ],
    );
    assert_eq!(id.len(), 64, "{id}");
    let ps = docker_ok(
        &host,
        &[
            "ps",
            "--format",
            "{{.Names}} {{.State}} {{.Label \"role\"}}",
        ],
    );
    assert_eq!(ps, "worker running test");
    assert_eq!(
        docker_ok(
            &host,
            &[
                "inspect",
                "worker",
                "--format",
                "{{.State.Running}} {{.Name}} {{.Config.Image}}"
            ]
        ),
        "true /worker busybox"
    );

    let conflict = docker(&host, &["run", "-d", "--name", "worker", "busybox", "true"]);
    assert!(
        printed(&conflict).contains("is already in use"),
        "{}",
        printed(&conflict)
    );

    docker_ok(&host, &["stop", "worker"]);
    assert_eq!(docker_ok(&host, &["wait", "worker"]), "0");
    let logs = docker(&host, &["logs", "worker"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "one\nthree\n");
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "two\n");
    assert_eq!(
        docker_ok(&host, &["logs", "--tail", "1", "worker"]),
        "three"
    );
    assert_eq!(
        docker_ok(
            &host,
            &[
                "ps",
                "-a",
                "--filter",
                "status=exited",
                "--format",
                "{{.Names}} {{.Status}}"
            ]
        )
        .split(' ')
        .take(3)
        .collect::<Vec<_>>(),
        ["worker", "Exited", "(0)"]
    );
    assert_eq!(
        docker_ok(&host, &["ps", "-q"]),
        "",
        "plain ps lists running containers only"
    );

    assert_eq!(docker_ok(&host, &["rm", "worker"]), "worker");
    let gone = docker(&host, &["inspect", "worker"]);
    assert!(
        printed(&gone).contains("No such container: worker")
            || printed(&gone).contains("No such object: worker"),
        "{}",
        printed(&gone)
    );
}

#[test]
fn stop_sends_term_then_kill_after_the_timeout() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    // A shell that exits on TERM, and a pid-1 sleep that ignores it.
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "polite",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 0' TERM; while true; do sleep 0.1; done",
        ],
    );
    docker_ok(
        &host,
        &[
            "run", "-d", "--name", "stubborn", "busybox", "sleep", "1000",
        ],
    );
    docker_ok(&host, &["stop", "-t", "10", "polite"]);
    assert_eq!(
        docker_ok(
            &host,
            &["inspect", "polite", "--format", "{{.State.ExitCode}}"]
        ),
        "0",
        "TERM was enough"
    );
    docker_ok(&host, &["stop", "-t", "1", "stubborn"]);
    assert_eq!(
        docker_ok(
            &host,
            &["inspect", "stubborn", "--format", "{{.State.ExitCode}}"]
        ),
        "137",
        "KILL after the timeout"
    );

    docker_ok(
        &host,
        &["run", "-d", "--name", "forced", "busybox", "sleep", "1000"],
    );
    let refused = docker(&host, &["rm", "forced"]);
    assert!(
        printed(&refused).contains("container is running"),
        "{}",
        printed(&refused)
    );
    docker_ok(&host, &["rm", "-f", "forced"]);
    assert_eq!(
        docker_ok(&host, &["ps", "-a", "--format", "{{.Names}}"])
            .lines()
            .count(),
        2
    );
}

/// The container's cgroup directory in one v1 hierarchy (or the unified one).
fn cgroup_file(pid: &str, controller: &str, file: &str) -> String {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let (mount, path) = cgroups
        .lines()
        .find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            ctrls
                .split(',')
                .any(|c| c == controller)
                .then(|| (format!("/sys/fs/cgroup/{controller}"), path.to_owned()))
        })
        .or_else(|| {
            cgroups.lines().find_map(|l| {
                l.strip_prefix("0::")
                    .map(|p| ("/sys/fs/cgroup".to_owned(), p.to_owned()))
            })
        })
        .unwrap();
    std::fs::read_to_string(format!("{mount}{path}/{file}"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn limits_land_in_the_cgroup_and_in_inspect() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "kuard",
            "--memory",
            "200m",
            "--memory-swap",
            "1G",
            "--cpu-shares",
            "1024",
            "--pids-limit",
            "20",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    let inspect = docker_ok(
        &host,
        &[
            "inspect",
            "kuard",
            "--format",
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}}",
        ],
    );
    assert_eq!(inspect, "209715200 1073741824 1024 20");
    let pid = docker_ok(&host, &["inspect", "kuard", "--format", "{{.State.Pid}}"]);
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    if v2 {
        assert_eq!(cgroup_file(&pid, "memory", "memory.max"), "209715200");
        assert_eq!(cgroup_file(&pid, "pids", "pids.max"), "20");
    } else {
        assert_eq!(
            cgroup_file(&pid, "memory", "memory.limit_in_bytes"),
            "209715200"
        );
        assert_eq!(cgroup_file(&pid, "cpu", "cpu.shares"), "1024");
        assert_eq!(cgroup_file(&pid, "pids", "pids.max"), "20");
    }
    // Below this berthd's own parent, never at the hierarchy's root.
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cgroups.contains(berthd.cgroup_parent()), "{cgroups}");
    docker_ok(&host, &["rm", "-f", "kuard"]);
}

#[test]
fn a_memory_hog_is_oom_killed() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let out = docker(
        &host,
        &[
            "run",
            "--name",
            "hog",
            "--memory",
            "32m",
            "--memory-swap",
            "32m",
            "busybox",
            "sh",
            "-c",
            "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
        ],
    );
    assert_eq!(out.status.code(), Some(137), "{}", printed(&out));
    assert_eq!(
        docker_ok(
            &host,
            &[
                "inspect",
                "hog",
                "--format",
                "{{.State.OOMKilled}} {{.State.ExitCode}}"
            ]
        ),
        "true 137"
    );
}

#[test]
fn unknown_containers_and_images_get_docker_errors() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let out = docker(&host, &["logs", "nosuch"]);
    assert!(
        printed(&out).contains("No such container: nosuch"),
        "{}",
        printed(&out)
    );
    let out = docker(&host, &["create", "--name", "bad name", "busybox"]);
    assert!(
        printed(&out).contains("Invalid container name"),
        "{}",
        printed(&out)
    );
    let out = docker(&host, &["create", "--pull", "never", "no-such-image:1"]);
    assert!(!out.status.success());
    assert!(printed(&out).contains("No such image"), "{}", printed(&out));
}

#[test]
fn containers_outlive_a_crashed_runner_and_are_found_again() {
    let mut berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "survivor",
            "busybox",
            "sh",
            "-c",
            "echo before; trap 'echo after; exit 0' TERM; while :; do sleep 0.1; done",
        ],
    );
    let pid = docker_ok(
        &host,
        &["inspect", "survivor", "--format", "{{.State.Pid}}"],
    );

    berthd.crash_and_restart();
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the container kept running"
    );
    assert_eq!(
        docker_ok(&host, &["ps", "--format", "{{.Names}} {{.State}}"]),
        "survivor running"
    );
    assert_eq!(
        docker_ok(
            &host,
            &["inspect", "survivor", "--format", "{{.State.Pid}}"]
        ),
        pid
    );
    docker_ok(&host, &["stop", "survivor"]);
    assert_eq!(
        docker_ok(
            &host,
            &["inspect", "survivor", "--format", "{{.State.ExitCode}}"]
        ),
        "0"
    );
    assert_eq!(docker_ok(&host, &["logs", "survivor"]), "before\nafter");
    docker_ok(&host, &["rm", "survivor"]);
}

#[test]
fn published_ports_reach_the_container_on_its_bridge() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let port = {
        // The kernel's pick; berthd binds it a moment later. A clash fails loudly.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // The book's line, with busybox's httpd standing in for kuard.
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "kuard",
            "--publish",
            &format!("127.0.0.1:{port}:8080"),
            "--memory",
            "200m",
            "--memory-swap",
            "1G",
            "--cpu-shares",
            "1024",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "8080",
            "-h",
            "/etc",
        ],
    );
    assert_eq!(
        docker_ok(&host, &["ps", "--format", "{{.Ports}}"]),
        format!("127.0.0.1:{port}->8080/tcp")
    );
    let ip = docker_ok(
        &host,
        &[
            "inspect",
            "kuard",
            "--format",
            "{{.NetworkSettings.IPAddress}}",
        ],
    );
    assert!(ip.starts_with("10."), "{ip}");

    // httpd may take a moment to listen: retry the connection a bounded number of times.
    let mut body = String::new();
    for _ in 0..50 {
        let out = Command::new("curl")
            .args(["-sf", "--max-time", "2"])
            .arg(format!("http://127.0.0.1:{port}/hostname"))
            .output()
            .unwrap();
        if out.status.success() {
            body = String::from_utf8_lossy(&out.stdout).into_owned();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let id = docker_ok(&host, &["inspect", "kuard", "--format", "{{.Id}}"]);
    assert_eq!(
        body.trim(),
        &id[..12],
        "the container's /etc/hostname, served through the published port"
    );

    // Another container on the bridge reaches it by address.
    let fetched = docker_ok(
        &host,
        &[
            "run",
            "--rm",
            "busybox",
            "wget",
            "-qO-",
            &format!("http://{ip}:8080/hostname"),
        ],
    );
    assert_eq!(fetched, &id[..12]);

    docker_ok(&host, &["rm", "-f", "kuard"]);
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "2"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "the port closes with the container");
    let links = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["-o", "link", "show", "master", berthd.bridge()])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert_eq!(links.trim(), "", "no veth left on the bridge");
}

#[test]
fn exec_runs_inside_the_running_container() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(
        &host,
        &["run", "-d", "--name", "box", "busybox", "sleep", "1000"],
    );
    assert_eq!(
        docker_ok(&host, &["exec", "box", "echo", "from-exec"]),
        "from-exec"
    );
    let out = docker(&host, &["exec", "box", "sh", "-c", "exit 5"]);
    assert_eq!(out.status.code(), Some(5), "{}", printed(&out));
    assert_eq!(
        docker_ok(
            &host,
            &[
                "exec",
                "-e",
                "X=1",
                "-w",
                "/tmp",
                "-u",
                "nobody",
                "box",
                "sh",
                "-c",
                "echo $X $(pwd) $(id -u)"
            ]
        ),
        "1 /tmp 65534"
    );
    // It shares the container's namespaces: same hostname, sees the container's pid 1.
    let hostname = docker_ok(
        &host,
        &["inspect", "box", "--format", "{{.Config.Hostname}}"],
    );
    assert_eq!(docker_ok(&host, &["exec", "box", "hostname"]), hostname);
    assert_eq!(
        docker_ok(&host, &["exec", "box", "cat", "/proc/1/cmdline"])
            .replace('\0', " ")
            .trim(),
        "sleep 1000"
    );

    let mut child = docker_command(&host)
        .args(["exec", "-i", "box", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"quiet\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "QUIET\n");

    docker_ok(&host, &["stop", "-t", "0", "box"]);
    let refused = docker(&host, &["exec", "box", "true"]);
    assert!(
        printed(&refused).contains("is not running"),
        "{}",
        printed(&refused)
    );
}

#[test]
fn images_in_use_by_containers_are_not_deleted() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(
        &host,
        &["run", "-d", "--name", "runs", "busybox", "sleep", "1000"],
    );
    let out = docker(&host, &["rmi", "-f", "busybox"]);
    assert!(
        printed(&out).contains("(cannot be forced) - image is being used by running container"),
        "{}",
        printed(&out)
    );
    docker_ok(&host, &["stop", "-t", "0", "runs"]);
    let out = docker(&host, &["rmi", "busybox"]);
    assert!(
        printed(&out).contains("(must be forced) - image is being used by stopped container"),
        "{}",
        printed(&out)
    );
    // A second name can go: that only untags.
    docker_ok(&host, &["tag", "busybox", "other:1"]);
    assert_eq!(docker_ok(&host, &["rmi", "other:1"]), "Untagged: other:1");
    // Prune keeps it too; forcing deletes it for good.
    docker_ok(&host, &["image", "prune", "-af"]);
    assert!(
        !docker_ok(&host, &["images", "-q"]).is_empty(),
        "prune keeps images containers use"
    );
    let removed = docker_ok(&host, &["rmi", "-f", "busybox"]);
    assert!(removed.contains("Deleted: sha256:"), "{removed}");
}

#[test]
fn container_lifecycle_shows_in_docker_events() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let since = berth_testkit::events_time(std::time::SystemTime::now());
    let out = docker(
        &host,
        &[
            "run", "--rm", "--name", "brief", "--label", "team=a", "busybox", "sh", "-c", "exit 4",
        ],
    );
    assert_eq!(out.status.code(), Some(4));
    let until = berth_testkit::events_time(std::time::SystemTime::now());
    let events = docker_ok(
        &host,
        &[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "type=container",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.team}} {{.Actor.Attributes.exitCode}}",
        ],
    );
    let lines: Vec<&str> = events.lines().collect();
    assert_eq!(
        lines,
        [
            "create brief a <no value>",
            "start brief a <no value>",
            "die brief a 4",
            "destroy brief a <no value>"
        ],
    );
}

#[test]
fn pause_freezes_and_unpause_thaws() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(
        &host,
        &["run", "-d", "--name", "ice", "busybox", "sleep", "1000"],
    );
    docker_ok(&host, &["pause", "ice"]);
    assert_eq!(
        docker_ok(
            &host,
            &[
                "inspect",
                "ice",
                "--format",
                "{{.State.Status}} {{.State.Paused}}"
            ]
        ),
        "paused true"
    );
    let pid = docker_ok(&host, &["inspect", "ice", "--format", "{{.State.Pid}}"]);
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let frozen = if v2 {
        cgroup_file(&pid, "", "cgroup.freeze") == "1"
    } else {
        cgroup_file(&pid, "freezer", "freezer.state") == "FROZEN"
    };
    assert!(frozen, "the container's cgroup is frozen");
    docker_ok(&host, &["unpause", "ice"]);
    assert_eq!(
        docker_ok(&host, &["inspect", "ice", "--format", "{{.State.Status}}"]),
        "running"
    );
    docker_ok(&host, &["rm", "-f", "ice"]);
}

#[test]
fn top_stats_and_rename_look_at_a_running_container() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "watched",
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            "busybox",
            "sleep",
            "1000",
        ],
    );

    let top = docker_ok(&host, &["top", "watched"]);
    let mut lines = top.lines();
    assert!(lines.next().unwrap().contains("PID"), "{top}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "only the container's process: {top}");
    assert!(rows[0].ends_with("sleep 1000"), "{top}");

    let stats = docker_ok(
        &host,
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.MemUsage}} {{.PIDs}}",
            "watched",
        ],
    );
    let fields: Vec<&str> = stats.split_whitespace().collect();
    assert_eq!(fields[0], "watched", "{stats}");
    assert_eq!(fields[3], "64MiB", "the memory limit: {stats}");
    assert_eq!(fields[4], "1", "one process: {stats}");

    docker_ok(&host, &["rename", "watched", "seen"]);
    assert_eq!(docker_ok(&host, &["ps", "--format", "{{.Names}}"]), "seen");
    let taken = docker(&host, &["rename", "seen", "bad/name"]);
    assert!(
        printed(&taken).contains("Invalid container name"),
        "{}",
        printed(&taken)
    );
    docker_ok(&host, &["rm", "-f", "seen"]);
}

#[test]
fn container_prune_removes_only_stopped_containers_the_filters_accept() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let run = |args: &[&str]| docker_ok(&host, &[&["run"], args].concat());
    run(&["--label", "team=a", "busybox", "sh", "-c", "echo data > /f"]);
    run(&["busybox", "true"]);
    let running = run(&["-d", "busybox", "sleep", "1000"]);
    let created = docker_ok(&host, &["create", "busybox", "true"]);
    let ids = |all: &str| {
        let mut v: Vec<String> = docker_ok(&host, &["ps", all, "-q", "--no-trunc"])
            .lines()
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids("-a").len(), 4);

    let out = docker_ok(&host, &["container", "prune", "-f", "--filter", "until=1h"]);
    assert_eq!(ids("-a").len(), 4, "nothing is older than an hour: {out}");

    let out = docker_ok(
        &host,
        &["container", "prune", "-f", "--filter", "label=team=a"],
    );
    assert_eq!(ids("-a").len(), 3, "{out}");
    assert_eq!(
        docker_ok(&host, &["ps", "-aq", "--filter", "label=team=a"]),
        ""
    );
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert!(
        !out.contains("0B"),
        "the labelled container wrote a file: {out}"
    );

    docker_ok(&host, &["container", "prune", "-f"]);
    assert_eq!(
        ids("-a"),
        std::slice::from_ref(&running),
        "the running one stays"
    );
    assert!(!ids("-a").contains(&created));
    docker_ok(&host, &["rm", "-f", &running]);
}

/// The runner watches every running container for its exit on its event loop, not with
/// a blocked thread each: threads would cost memory per container and, past tokio's 512
/// blocking threads, starve every other call.
#[test]
fn running_containers_hold_no_runner_thread_each() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let threads = || {
        std::fs::read_to_string(format!("/proc/{}/status", berthd.process.pid()))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .unwrap()
            .trim()
            .parse::<usize>()
            .unwrap()
    };
    // One container first, so the pools every call uses exist already.
    docker_ok(&host, &["run", "-d", "busybox", "sleep", "1000"]);
    let before = threads();
    for _ in 0..24 {
        docker_ok(&host, &["run", "-d", "busybox", "sleep", "1000"]);
    }
    let after = threads();
    assert!(
        after < before + 8,
        "24 more running containers took {} more threads ({before} -> {after})",
        after - before
    );
    let ids = docker_ok(&host, &["ps", "-q"]);
    let mut rm = vec!["rm", "-f"];
    rm.extend(ids.lines());
    docker_ok(&host, &rm);
}
