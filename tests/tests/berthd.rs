//! `berthd` driven by the real docker CLI, as a user would: start it, point `docker` at
//! its socket, read what the CLI prints. Needs root (sockets under /tmp are fine) and the
//! `docker` CLI (`/usr/local/bin/docker`, or Debian's docker.io).

use std::process::Command;
use std::time::Duration;

use berth_testkit::{Berthd, docker, printed, require_tool};
use nix::sys::signal::Signal;

#[test]
fn docker_version_shows_berth_as_the_server() {
    let berthd = Berthd::start();
    let out = docker(&berthd.docker_host(), &["version"]);
    let shown = printed(&out);
    assert!(out.status.success(), "docker version failed:\n{shown}");
    assert!(shown.contains("Server: berth"), "{shown}");
    assert!(
        shown.contains(&format!("Version:          {}", env!("CARGO_PKG_VERSION"))),
        "{shown}"
    );
    assert!(
        shown.contains("API version:      1.47 (minimum version 1.24)"),
        "{shown}"
    );

    let out = docker(
        &berthd.docker_host(),
        &[
            "version",
            "--format",
            "{{.Server.Os}}/{{.Server.APIVersion}}",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "linux/1.47");
}

#[test]
fn docker_info_reports_the_host_from_the_runner() {
    let berthd = Berthd::start_with(&["--label", "zone=test"]);
    let out = docker(&berthd.docker_host(), &["info", "--format", "{{json .}}"]);
    assert!(
        out.status.success(),
        "docker info failed:\n{}",
        printed(&out)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info is JSON");
    let server_version = info["ServerVersion"].as_str().unwrap();
    assert_eq!(server_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info["OSType"], "linux");
    let uname = nix::sys::utsname::uname().unwrap();
    assert_eq!(info["KernelVersion"], uname.release().to_str().unwrap());
    assert_eq!(
        info["NCPU"].as_u64().unwrap() as usize,
        std::thread::available_parallelism().unwrap().get()
    );
    assert!(info["MemTotal"].as_u64().unwrap() > 0);
    assert_eq!(info["Labels"], serde_json::json!(["zone=test"]));
    let expected_cgroup = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    };
    assert_eq!(info["CgroupVersion"], expected_cgroup);
    // The runner announced itself before berthd said it was ready.
    let warnings = info["Warnings"].as_array().cloned().unwrap_or_default();
    assert!(
        !warnings
            .iter()
            .any(|w| w.as_str().unwrap_or("").contains("no runner")),
        "{warnings:?}"
    );

    let out = docker(&berthd.docker_host(), &["info"]);
    let shown = printed(&out);
    assert!(shown.contains("Server Version: 0.1.0"), "{shown}");
}

#[test]
fn docker_ps_answers_at_once_with_an_empty_list() {
    let berthd = Berthd::start();
    let out = docker(&berthd.docker_host(), &["ps", "--format", "{{.ID}}"]);
    assert!(out.status.success(), "{}", printed(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
}

#[test]
fn api_errors_have_dockers_shape() {
    let berthd = Berthd::start();
    let socket = berthd.socket();
    let curl = |path: &str| {
        let out = Command::new(require_tool("curl", "curl"))
            .args(["-s", "-i", "--unix-socket"])
            .arg(&socket)
            .arg(format!("http://berth{path}"))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
    };
    let too_new = curl("/v1.99/version");
    assert!(too_new.starts_with("HTTP/1.1 400"), "{too_new}");
    assert!(
        too_new.contains("\ncontent-type: application/json\n"),
        "{too_new}"
    );
    assert!(
        too_new.ends_with(
            r#"{"message":"client version 1.99 is too new. Maximum supported API version is 1.47"}"#
        ),
        "{too_new}"
    );
    let unknown = curl("/v1.47/no/such/thing");
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    assert!(
        unknown
            .contains(r#"{"message":"page not found: berth has no endpoint GET /no/such/thing"}"#),
        "{unknown}"
    );
    let ping = curl("/_ping");
    assert!(ping.starts_with("HTTP/1.1 200"), "{ping}");
    for header in ["api-version: 1.47", "ostype: linux", "builder-version: 1"] {
        assert!(ping.contains(header), "missing {header}: {ping}");
    }
    let versioned_ping = curl("/v1.40/_ping");
    assert!(versioned_ping.ends_with("\nOK"), "{versioned_ping}");
}

#[test]
fn two_berthds_run_side_by_side_without_touching_each_other() {
    let mut a = Berthd::start();
    let b = Berthd::start();
    assert_ne!(a.data_root(), b.data_root());
    for d in [&a, &b] {
        assert!(docker(&d.docker_host(), &["version"]).status.success());
        let sockets: Vec<_> = std::fs::read_dir(d.data_root().join("run"))
            .expect("internal sockets live under the data root")
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(sockets.len(), 4, "{sockets:?}");
    }
    // Stopping one leaves the other serving, and cleans up after itself.
    let status = a
        .process
        .signal_and_wait(Signal::SIGTERM, Duration::from_secs(2))
        .expect("berthd stops within 2 s of SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(
        !a.socket().exists(),
        "the API socket is removed on a clean stop"
    );
    assert!(docker(&b.docker_host(), &["version"]).status.success());
}

#[test]
fn the_api_is_also_served_on_tcp_when_asked() {
    let port = {
        // The kernel's pick; berthd binds it a moment later. A clash would fail loudly in
        // start, never pass wrongly.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let tcp = format!("tcp://127.0.0.1:{port}");
    let berthd = Berthd::start_with(&["-H", &tcp]);
    assert!(docker(&tcp, &["version"]).status.success());
    assert!(docker(&berthd.docker_host(), &["version"]).status.success());
}

/// Without `berth-monitor` and `berth-spawn` berthd could run no container: it refuses to
/// start at once, naming what is missing and the command that builds it, and touches no
/// socket. A copy of berthd alone in a directory finds neither beside it; a monitor
/// without berth-spawn beside it is named too.
#[test]
fn berthd_without_its_helpers_refuses_to_start_and_says_how_to_build_them() {
    let dir = tempfile::tempdir().unwrap();
    let berthd = dir.path().join("berthd");
    std::fs::copy(berth_testkit::binary("berthd"), &berthd).unwrap();
    let root = dir.path().join("root");
    let run = |monitor: Option<&std::path::Path>| {
        let mut cmd = Command::new(&berthd);
        cmd.args(["--data-root", root.to_str().unwrap()])
            .args(["-H", &format!("unix://{}/api.sock", dir.path().display())])
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env_remove("BERTH_MONITOR");
        if let Some(m) = monitor {
            cmd.env("BERTH_MONITOR", m);
        }
        let out = cmd.output().unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (status, err) = run(None);
    assert!(!status.success(), "{err}");
    assert!(err.contains("berth-monitor"), "{err}");
    assert!(
        err.contains("cargo build --release -p berth-runner --bins"),
        "{err}"
    );
    assert!(!dir.path().join("api.sock").exists(), "no socket was made");

    let lonely = dir.path().join("lonely");
    std::fs::create_dir(&lonely).unwrap();
    let monitor = lonely.join("berth-monitor");
    std::fs::copy(berth_testkit::binary("berth-monitor"), &monitor).unwrap();
    let (status, err) = run(Some(&monitor));
    assert!(!status.success(), "{err}");
    assert!(
        err.contains("lonely/berth-spawn"),
        "names the missing one: {err}"
    );
}
