//! The data root against host users and against a second berthd (issue #9, findings 3
//! and 12): host user `nobody` tries to run a setuid-root binary a container made and to
//! read a container's secrets through the data root (CVE-2021-41091 class), before and
//! after the root's modes were loosened by hand; a second berthd on the same root must
//! fail without taking the live one's sockets. Needs root, the docker CLI, Debian's
//! busybox-static and util-linux's `setpriv`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use berth_testkit::{Berthd, binary, docker_ok, eventually, printed, require_tool};

/// Runs `argv` as host user `nobody` (uid and gid 65534, no supplementary groups).
fn as_nobody(argv: &[&str]) -> Output {
    Command::new(require_tool("setpriv", "util-linux"))
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(argv)
        .output()
        .unwrap()
}

fn denied(out: &Output) -> bool {
    !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("Permission denied")
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// The attack: as `nobody`, run the container's setuid-root busybox (from the container's
/// root and from its upper layer) and read its spec, which holds its environment. Every
/// path exists (checked as root first), so each failure is the kernel saying EACCES.
fn nobody_is_kept_out(paths: &Paths) {
    for suid in [&paths.suid_in_rootfs, &paths.suid_in_upper] {
        assert_eq!(
            mode(suid) & 0o4000,
            0o4000,
            "{} is setuid as root sees it",
            suid.display()
        );
        // Through a shell: setpriv itself still holds root's capabilities at its exec.
        let out = as_nobody(&[
            "sh",
            "-c",
            r#"exec "$0" id -u"#,
            &suid.display().to_string(),
        ]);
        assert!(
            denied(&out),
            "nobody ran the container's setuid binary {}: {}",
            suid.display(),
            printed(&out)
        );
    }
    let spec = std::fs::read_to_string(&paths.spec).unwrap();
    assert!(spec.contains("PASSWORD=hunter2"), "the spec holds the env");
    let out = as_nobody(&["cat", &paths.spec.display().to_string()]);
    assert!(denied(&out), "nobody read the env: {}", printed(&out));
    let out = as_nobody(&["ls", &paths.snapshots.display().to_string()]);
    assert!(
        denied(&out),
        "nobody listed the snapshots: {}",
        printed(&out)
    );
}

#[derive(Debug)]
struct Paths {
    suid_in_rootfs: PathBuf,
    suid_in_upper: PathBuf,
    spec: PathBuf,
    snapshots: PathBuf,
}

#[test]
fn host_users_cannot_reach_containers_files_and_old_roots_are_fixed() {
    let mut berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    // The test's temporary directory is 0700 itself, which would hide the data root's
    // modes: open it up as /var/lib is.
    chmod(berthd.dir(), 0o755);
    let id = docker_ok(
        &host,
        &[
            "run",
            "-d",
            "-e",
            "PASSWORD=hunter2",
            "busybox",
            "sh",
            "-c",
            "mkdir /s && cp /bin/busybox /s/busybox && chmod 4755 /s/busybox && touch /ready && exec sleep 1000",
        ],
    );
    eventually(
        "the container made its setuid binary",
        Duration::from_secs(10),
        || {
            let out = berth_testkit::docker(&host, &["exec", &id, "test", "-e", "/ready"]);
            out.status.success().then_some(())
        },
    );
    let root = berthd.data_root();
    let state = root.join("runner/containers").join(&id);
    let paths = Paths {
        suid_in_rootfs: state.join("rootfs/s/busybox"),
        suid_in_upper: state.join("upper/s/busybox"),
        spec: root.join("runner/runtime").join(&id).join("config.json"),
        snapshots: root.join("runner/snapshots"),
    };
    nobody_is_kept_out(&paths);
    assert_eq!(mode(&root), 0o710);
    for dir in [
        "runner",
        "image-store",
        "run",
        "runner/containers",
        "runner/runtime",
    ] {
        assert_eq!(mode(&root.join(dir)), 0o700, "{dir}");
    }
    for file in [
        PathBuf::from("runner/containers.redb"),
        PathBuf::from("image-store/meta.redb"),
        paths.spec.strip_prefix(&root).unwrap().to_owned(),
    ] {
        assert_eq!(mode(&root.join(&file)), 0o600, "{}", file.display());
    }

    // A root an older berth made, or a hand-made one: directories 0755, files 0644.
    let loosened_dirs = [
        "",
        "runner",
        "image-store",
        "run",
        "runner/containers",
        "runner/runtime",
    ];
    let loosened_files = [
        "runner/containers.redb",
        "image-store/meta.redb",
        &format!("runner/runtime/{id}/config.json"),
        &format!("runner/runtime/{id}/berth.json"),
    ];
    berthd.crash_and_restart_after(|| {
        for dir in loosened_dirs {
            chmod(&root.join(dir), 0o755);
        }
        for file in loosened_files {
            chmod(&root.join(file), 0o644);
        }
    });
    assert_eq!(mode(&root), 0o710, "the root's mode was fixed on start");
    for dir in &loosened_dirs[1..] {
        assert_eq!(mode(&root.join(dir)), 0o700, "{dir} was fixed on start");
    }
    for file in loosened_files {
        assert_eq!(mode(&root.join(file)), 0o600, "{file} was fixed on start");
    }
    nobody_is_kept_out(&paths);
    docker_ok(&host, &["rm", "-f", &id]);
}

#[test]
fn a_second_berthd_on_the_same_root_fails_and_leaves_the_first_alone() {
    let berthd = Berthd::start();
    let root = berthd.data_root();
    let out = Command::new(binary("berthd"))
        .arg("--data-root")
        .arg(&root)
        .arg("-H")
        .arg(berthd.docker_host())
        .args(["--bridge", berthd.bridge(), "--cgroup-parent"])
        .arg(berthd.cgroup_parent())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the second berthd started");
    let expected = format!(
        "another berthd is using {} (pid {})",
        root.display(),
        berthd.process.pid()
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&expected),
        "expected {expected:?}: {}",
        printed(&out)
    );
    assert!(
        berthd.socket().exists(),
        "the first berthd's socket is gone"
    );
    docker_ok(&berthd.docker_host(), &["version"]);
}
