//! Security options through the real docker CLI against berthd: each is honoured, or
//! refused with a 400 that names it (`docker run` exits 125 and prints the message);
//! none is ever dropped silently. Needs root and Debian's busybox-static.

use berth_testkit::{Berthd, docker, docker_ok, printed};

/// `CapBnd` (or another capability line) of `/proc/<pid>/status`, as a mask.
fn cap_line(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| u64::from_str_radix(v.trim_start_matches(':').trim(), 16).ok())
        .unwrap_or_else(|| panic!("no {key} in {status}"))
}

#[test]
fn privileged_gets_the_daemons_bounding_set() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let daemon = std::fs::read_to_string(format!("/proc/{}/status", berthd.process.pid())).unwrap();
    let bounding = cap_line(&daemon, "CapBnd");
    let out = docker(
        &host,
        &[
            "run",
            "--rm",
            "--privileged",
            "busybox",
            "cat",
            "/proc/self/status",
        ],
    );
    assert!(out.status.success(), "{}", printed(&out));
    let inside = String::from_utf8_lossy(&out.stdout);
    assert_eq!(cap_line(&inside, "CapBnd"), bounding, "{inside}");
    assert_eq!(cap_line(&inside, "CapEff"), bounding, "{inside}");
    // `--cap-add ALL` follows the same rule.
    let out = docker(
        &host,
        &[
            "run",
            "--rm",
            "--cap-add",
            "ALL",
            "busybox",
            "cat",
            "/proc/self/status",
        ],
    );
    assert!(out.status.success(), "{}", printed(&out));
    let inside = String::from_utf8_lossy(&out.stdout);
    assert_eq!(cap_line(&inside, "CapEff"), bounding, "{inside}");
    // exec --privileged in an ordinary container: the same set; a plain exec keeps the
    // container's 14 defaults (0xa80425fb).
    let id = docker_ok(&host, &["run", "-d", "busybox", "sleep", "300"]);
    let status = |privileged: bool| {
        let mut args = vec!["exec"];
        if privileged {
            args.push("--privileged");
        }
        args.extend([id.as_str(), "cat", "/proc/self/status"]);
        docker_ok(&host, &args)
    };
    assert_eq!(cap_line(&status(true), "CapEff"), bounding);
    assert_eq!(cap_line(&status(false), "CapEff"), 0xa80425fb);
    docker_ok(&host, &["rm", "-f", &id]);
}

/// `docker run --rm ARGS...` that must succeed; its stdout, trimmed.
fn run_ok(host: &str, args: &[&str]) -> String {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(args);
    docker_ok(host, &all)
}

/// `docker run --rm ARGS...` that the daemon must refuse (the CLI exits 125); all it
/// printed.
fn run_refused(host: &str, args: &[&str]) -> String {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(args);
    let out = docker(host, &all);
    assert_eq!(out.status.code(), Some(125), "{args:?}: {}", printed(&out));
    printed(&out)
}

/// The HTTP status of a raw create with this `HostConfig`, and the body.
fn raw_create(berthd: &Berthd, host_config: &str) -> (String, String) {
    let out = std::process::Command::new(berth_testkit::require_tool("curl", "curl"))
        .args(["-s", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(berthd.socket())
        .args(["-X", "POST", "-H", "Content-Type: application/json", "-d"])
        .arg(format!(
            r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{host_config}}}"#
        ))
        .arg("http://berth/v1.47/containers/create")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    (code.to_owned(), body.to_owned())
}

#[test]
fn a_custom_seccomp_profile_is_enforced() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    // Everything allowed but mkdir, which fails with EACCES (13) rather than the default
    // profile's EPERM: proof this profile, not the default one, is in force.
    let opt = berthd.no_mkdir_seccomp_profile();
    let out = docker(
        &host,
        &[
            "run",
            "--rm",
            "--security-opt",
            &opt,
            "busybox",
            "mkdir",
            "/tmp/d",
        ],
    );
    assert!(
        !out.status.success(),
        "mkdir must be blocked: {}",
        printed(&out)
    );
    assert!(
        printed(&out).contains("Permission denied"),
        "{}",
        printed(&out)
    );
    // The exec'd processes get it too.
    let id = docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--security-opt",
            &opt,
            "busybox",
            "sleep",
            "300",
        ],
    );
    let out = docker(&host, &["exec", &id, "mkdir", "/tmp/e"]);
    assert!(!out.status.success(), "{}", printed(&out));
    docker_ok(&host, &["rm", "-f", &id]);
    // Without it, mkdir works: the profile made the difference.
    run_ok(&host, &["busybox", "mkdir", "/tmp/d"]);
    // A broken profile is refused, not replaced by the default.
    let bad = berthd.dir().join("bad.json");
    std::fs::write(&bad, r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#).unwrap();
    let text = run_refused(
        &host,
        &[
            "--security-opt",
            &format!("seccomp={}", bad.display()),
            "busybox",
            "true",
        ],
    );
    assert!(text.contains("seccomp profile"), "{text}");
}

#[test]
fn ulimits_pid_and_ipc_host_sysctls_and_devices_are_honoured() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let limits = run_ok(
        &host,
        &[
            "--ulimit",
            "nofile=100:200",
            "busybox",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn",
        ],
    );
    assert_eq!(limits, "100\n200");

    let own = |ns: &str| std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
    let inside = |flag: &str, ns: &str| {
        run_ok(
            &host,
            &[
                flag,
                "host",
                "busybox",
                "readlink",
                &format!("/proc/self/ns/{ns}"),
            ],
        )
    };
    assert_eq!(inside("--pid", "pid"), own("pid").to_string_lossy());
    assert_eq!(inside("--ipc", "ipc"), own("ipc").to_string_lossy());
    // --ipc host shares the host's /dev/shm too.
    let shm = format!("/dev/shm/berth-test-{}", std::process::id());
    std::fs::write(&shm, "from the host").unwrap();
    let seen = docker(
        &host,
        &["run", "--rm", "--ipc", "host", "busybox", "cat", &shm],
    );
    let _ = std::fs::remove_file(&shm);
    assert_eq!(
        String::from_utf8_lossy(&seen.stdout),
        "from the host",
        "{}",
        printed(&seen)
    );
    let private = run_ok(&host, &["busybox", "readlink", "/proc/self/ns/pid"]);
    assert_ne!(private, own("pid").to_string_lossy().as_ref());
    // The host's processes are visible with --pid host.
    let me = std::process::id().to_string();
    run_ok(
        &host,
        &[
            "--pid",
            "host",
            "busybox",
            "test",
            "-d",
            &format!("/proc/{me}"),
        ],
    );

    let shmmax = run_ok(
        &host,
        &[
            "--sysctl",
            "kernel.shmmax=123456789",
            "busybox",
            "cat",
            "/proc/sys/kernel/shmmax",
        ],
    );
    assert_eq!(shmmax, "123456789");

    let dev = run_ok(
        &host,
        &[
            "--device",
            "/dev/null:/dev/mynull",
            "busybox",
            "sh",
            "-c",
            "echo gone > /dev/mynull && stat -c '%F %t:%T' /dev/mynull",
        ],
    );
    assert_eq!(dev, "character special file 1:3");
}

#[test]
fn what_berth_cannot_honour_is_refused_by_name() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    for (args, named) in [
        (vec!["--ulimit", "nofile=100:1000000000"], "ulimit nofile"),
        (vec!["--sysctl", "vm.swappiness=10"], "vm.swappiness"),
        (
            vec!["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
            "net.ipv4.ip_forward",
        ),
        (vec!["--pid", "container:other"], "--pid"),
        (vec!["--device", "/etc/passwd"], "--device /etc/passwd"),
        (
            vec!["--security-opt", "apparmor=docker-default"],
            "apparmor=docker-default",
        ),
        (
            vec!["--security-opt", "label=type:svirt_t"],
            "label=type:svirt_t",
        ),
        (
            vec!["--security-opt", "systempaths=unconfined"],
            "systempaths=unconfined",
        ),
        (vec!["--cpuset-cpus", "0"], "--cpuset-cpus"),
        (vec!["--oom-score-adj", "500"], "--oom-score-adj"),
        (vec!["--userns", "host"], "--userns"),
    ] {
        let mut all = args.clone();
        all.extend(["busybox", "true"]);
        let text = run_refused(&host, &all);
        assert!(text.contains(named), "{args:?}: {text}");
    }
    // What is only a no-op here is accepted.
    run_ok(
        &host,
        &[
            "--security-opt",
            "apparmor=unconfined",
            "--security-opt",
            "label=disable",
            "busybox",
            "true",
        ],
    );
    // Through the API: a 400, with the option in Docker's error shape.
    let (code, body) = raw_create(&berthd, r#"{"SecurityOpt":["apparmor=docker-default"]}"#);
    assert_eq!(code, "400", "{body}");
    assert!(body.contains("apparmor=docker-default"), "{body}");
    let (code, body) = raw_create(&berthd, r#"{"CpusetCpus":"0"}"#);
    assert_eq!(code, "400", "{body}");
}

/// `Max open files` of `/proc/<pid>/limits`: (soft, hard).
fn open_files(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no open-file limit in {limits}"));
    let mut fields = line.split_whitespace().skip(3).map(|n| n.parse().unwrap());
    (fields.next().unwrap(), fields.next().unwrap())
}

#[test]
fn containers_do_not_inherit_the_daemons_raised_open_file_limit() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let (daemon_soft, daemon_hard) = open_files(berthd.process.pid());
    // berthd raised its soft limit for its proxy's sockets; that is what would leak.
    assert_eq!(daemon_soft, daemon_hard);
    assert!(
        daemon_hard > 1024,
        "the hard limit {daemon_hard} tests nothing"
    );
    let shown = "ulimit -n; ulimit -Hn";
    let limits = run_ok(&host, &["busybox", "sh", "-c", shown]);
    assert_eq!(limits, format!("1024\n{daemon_hard}"));
    // Processes exec'd into the container get the container's limits, not berthd's.
    let id = docker_ok(&host, &["run", "-d", "busybox", "sleep", "300"]);
    let exec = docker_ok(&host, &["exec", &id, "sh", "-c", shown]);
    assert_eq!(exec, format!("1024\n{daemon_hard}"));
    docker_ok(&host, &["rm", "-f", &id]);
    // --ulimit nofile still decides.
    let asked = ["--ulimit", "nofile=100:200", "busybox", "sh", "-c", shown];
    assert_eq!(run_ok(&host, &asked), "100\n200");
}
