//! Fixtures for the real-container tests: a busybox root filesystem, a runtime whose state
//! directory and cgroup parent belong to one test, and a guard that deletes every
//! container and the cgroup parent when the test ends, even when it fails.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use berth_runtime::{ContainerConfig, ContainerHandle, Runtime, cgroups};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The monitor built as this crate's example (`cargo test` builds examples).
pub fn monitor_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().unwrap().parent().unwrap();
    let path = target.join("examples").join("berth-monitor");
    assert!(
        path.is_file(),
        "{} is missing: run through `cargo test -p berth-runtime`, which builds it",
        path.display()
    );
    path
}

/// A busybox root filesystem with applet links and root + nobody accounts.
pub fn busybox_rootfs(dir: &Path) {
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "work"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
    std::fs::copy(busybox, dir.join("bin/busybox")).unwrap();
    let list = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = dir.join("bin").join(applet);
        if !link.exists() {
            symlink("busybox", link).unwrap();
        }
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
}

/// One test's runtime, rootfs and cgroup parent; cleans everything up on drop.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub runtime: Runtime,
    pub rootfs: PathBuf,
    pub cgroup_parent: String,
    ids: Vec<String>,
}

impl TestEnv {
    pub fn new(name: &str) -> Self {
        assert!(
            nix::unistd::geteuid().is_root(),
            "these tests run real containers: run them as root"
        );
        let dir = tempfile::Builder::new()
            .prefix("berth-rt-")
            .tempdir()
            .unwrap();
        let rootfs = dir.path().join("rootfs");
        busybox_rootfs(&rootfs);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let cgroup_parent = cgroups::join_cgroup(
            &cgroups::own_cgroup(),
            &format!("berth-test-{}-{n}-{name}", std::process::id()),
        );
        let runtime = Runtime::new(dir.path().join("state"), Some(cgroup_parent.clone()))
            .unwrap()
            .with_monitor(monitor_binary());
        TestEnv {
            dir,
            runtime,
            rootfs,
            cgroup_parent,
            ids: Vec::new(),
        }
    }

    pub fn config(args: &[&str]) -> ContainerConfig {
        ContainerConfig {
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    /// Creates a container with a fresh id.
    pub fn create(&mut self, cfg: &ContainerConfig) -> ContainerHandle {
        let id = format!(
            "c{}-{}",
            self.ids.len(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        self.ids.push(id.clone());
        self.runtime.create(&id, cfg, &self.rootfs).unwrap()
    }

    /// Creates, starts and waits: (exit code, oom, stdout+stderr from the log).
    pub fn run(&mut self, cfg: &ContainerConfig) -> (i32, bool, String) {
        let h = self.create(cfg);
        self.runtime.start(&h.id).unwrap();
        let exit = self
            .runtime
            .wait(&h.id, Some(Duration::from_secs(60)))
            .unwrap();
        (exit.exit_code, exit.oom_killed, log_text(&h.log_path))
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.runtime.delete(id, true);
        }
        let _ = cgroups::remove_tree(&self.cgroup_parent);
    }
}

/// The `log` fields of a json-file log, concatenated.
pub fn log_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["log"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}
