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
    docker_ok(&host, &["ps", "-a"]);
}
