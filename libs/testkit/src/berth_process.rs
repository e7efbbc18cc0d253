//! berth's own processes, started for one test: `berthd` or one service alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{ChildGuard, binary, wait_for_line};

/// How long a berth process may take to say it is ready before the test fails. Generous:
/// CI machines are slow and busy; a healthy start takes milliseconds.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `berthd` with its own data root, sockets and cgroup parent; stopped on drop, its
/// containers' cgroup parent removed.
#[derive(Debug)]
pub struct Berthd {
    pub process: ChildGuard,
    dir: tempfile::TempDir,
    cgroup_parent: String,
    bridge: String,
    network_pool: String,
    extra: Vec<String>,
    env: Vec<(String, String)>,
    cgroups: CgroupView,
    launcher: Option<PathBuf>,
}

/// Which cgroup layout berthd sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupView {
    /// The host's, whatever it is.
    Host,
    /// Only the unified (v2) hierarchy at /sys/fs/cgroup, in a mount namespace of
    /// berthd's own: a cgroup v2 host as most are today, on a hybrid machine. The v2
    /// controllers are whatever the host has not bound to v1.
    UnifiedOnly,
}

/// A bridge name and address unique to this process and call: tests run in parallel
/// threads of one process, and a later test binary may reuse names only after this
/// process (and its cleanup) is gone.
pub fn unique_bridge() -> (String, String) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    (
        format!("bb{:05x}{:02x}", pid & 0xfffff, n & 0xff),
        format!("10.{}.{}.1/24", 150 + pid % 100, n % 250),
    )
}

/// A subnet pool for one berthd's user-defined networks (`--network-pool`), unique to
/// this process and call like [`unique_bridge`]: a /24 from 10.50.0.0–10.149.255.0
/// (apart from the bridges' 10.150+ range), carved into /28s.
pub fn unique_network_pool() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    format!("10.{}.{}.0/24", 50 + pid % 100, n % 256)
}

/// Deletes every bridge (with its NAT and isolation rules) that carries an address in
/// `subnet`: the user-defined networks a test's berthd made there.
pub fn remove_bridges_within(subnet: &str) {
    let Ok(subnet) = subnet.parse::<berth_network::Ipv4Subnet>() else {
        return;
    };
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        if let Ok(rt) = rt {
            rt.block_on(async {
                for bridge in berth_network::bridges_within(subnet)
                    .await
                    .unwrap_or_default()
                {
                    let _ = berth_network::delete_bridge_network(&bridge).await;
                }
            });
        }
    })
    .join();
}

/// The test process's own cgroup (the memory hierarchy's on v1, the unified one on v2):
/// test containers go below it, never at the root.
fn own_cgroup() -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let field = |line: &str| line.splitn(3, ':').nth(2).map(str::to_owned);
    text.lines()
        .find(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|c| c.split(',').any(|c| c == "memory"))
        })
        .and_then(field)
        .or_else(|| text.lines().find(|l| l.starts_with("0::")).and_then(field))
        .unwrap_or_else(|| "/".to_owned())
}

/// The test process's cgroup in the unified hierarchy (`0::` of /proc/self/cgroup).
fn own_unified_cgroup() -> String {
    std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
        .unwrap_or_else(|| "/".to_owned())
}

impl Drop for Berthd {
    fn drop(&mut self) {
        // Stop berthd first (its containers' monitors keep running: kill them via the
        // cgroup), then remove the parent in every hierarchy.
        self.process
            .signal_and_wait(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(5));
        let parent = self.cgroup_parent.trim_start_matches('/');
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hierarchies.flatten() {
                remove_cgroup_tree(&h.path().join(parent));
            }
        }
        // A v2-only host has its one hierarchy at /sys/fs/cgroup itself.
        remove_cgroup_tree(&Path::new("/sys/fs/cgroup").join(parent));
        unmount_below(self.dir.path());
        // The bridges and their NAT rules outlive berthd by design (as docker0 does); a
        // test's must not, whether it passed or not.
        remove_bridge(&self.bridge);
        remove_bridges_within(&self.network_pool);
    }
}

/// Deletes a bridge a test's berthd or runner made, with its NAT rules and the rules
/// guarding its engine's API ports.
pub fn remove_bridge(bridge: &str) {
    let bridge = bridge.to_owned();
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        if let Ok(rt) = rt {
            let _ = rt.block_on(berth_network::delete_bridge_network(&bridge));
            // A berthd killed before it stopped leaves its API guard behind.
            let _ = rt.block_on(berth_network::unguard_host_ports(&bridge));
        }
    })
    .join();
}

/// Detaches every mount below `dir` (container roots left by a test that failed), so the
/// temporary directory can be removed.
fn unmount_below(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(prefix.as_str()))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Kills what is left in a cgroup tree and removes it, deepest first.
fn remove_cgroup_tree(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup_tree(&e.path());
        }
    }
    if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    for _ in 0..50 {
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        // Killed processes leave the cgroup asynchronously; rmdir succeeds once they have.
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Berthd {
    /// Starts `berthd` and returns once it logs that it is ready.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts `berthd` with the busybox image (Debian's busybox-static) loaded as
    /// `busybox:latest`: what most container tests begin with.
    pub fn with_busybox() -> Self {
        let berthd = Self::start();
        berthd.load_busybox();
        berthd
    }

    /// Writes a seccomp profile that allows everything but `mkdir`, which fails with EACCES
    /// (13) where Docker's default profile answers EPERM: a container that cannot make a
    /// directory with "Permission denied" runs under this profile, not the default one.
    /// Returns the `--security-opt` value naming it.
    pub fn no_mkdir_seccomp_profile(&self) -> String {
        let profile = self.dir().join("no-mkdir.json");
        std::fs::write(
            &profile,
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
        )
        .expect("write the seccomp profile");
        format!("seccomp={}", profile.display())
    }

    /// Loads the busybox image (Debian's busybox-static) as `busybox:latest`.
    pub fn load_busybox(&self) {
        let image = crate::busybox_archive(self.dir(), "busybox:latest");
        crate::docker_ok(
            &self.docker_host(),
            &["load", "-i", &image.path.display().to_string()],
        );
    }

    /// Like [`Berthd::start`], with extra flags.
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_in(CgroupView::Host, extra)
    }

    /// Like [`Berthd::start_with`], seeing the cgroups as `cgroups` says.
    pub fn start_in(cgroups: CgroupView, extra: &[&str]) -> Self {
        Self::start_full(cgroups, extra, &[])
    }

    /// Like [`Berthd::start_with`], with extra environment variables (such as
    /// `BERTH_MONITOR`, to run copies of the monitor and berth-spawn).
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_full(CgroupView::Host, extra, env)
    }

    /// Like [`Berthd::start`], but started by `launcher`, a program that ends by exec'ing
    /// berthd with the arguments it was given (the README's `scripts/start`), instead of
    /// the binary this test run built. `ready_within` covers whatever the launcher does
    /// first, such as building berth.
    pub fn start_through(launcher: &Path, env: &[(&str, &str)], ready_within: Duration) -> Self {
        Self::start_full_by(
            CgroupView::Host,
            &[],
            env,
            Some(launcher.to_path_buf()),
            ready_within,
        )
    }

    fn start_full(cgroups: CgroupView, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_full_by(cgroups, extra, env, None, START_TIMEOUT)
    }

    fn start_full_by(
        cgroups: CgroupView,
        extra: &[&str],
        env: &[(&str, &str)],
        launcher: Option<PathBuf>,
        ready_within: Duration,
    ) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berthd-")
            .tempdir()
            .expect("temporary directory");
        let name = dir
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("berthd");
        let own = match cgroups {
            CgroupView::Host => own_cgroup(),
            CgroupView::UnifiedOnly => own_unified_cgroup(),
        };
        let cgroup_parent = format!("{}/{name}", own.trim_end_matches('/'));
        let (bridge, bip) = unique_bridge();
        let network_pool = unique_network_pool();
        // A killed run of an earlier test process may have left networks in this range.
        remove_bridges_within(&network_pool);
        let mut all: Vec<String> = vec![
            "--bridge".into(),
            bridge.clone(),
            "--bip".into(),
            bip,
            "--network-pool".into(),
            format!("{network_pool},size=28"),
        ];
        all.extend(extra.iter().map(|s| s.to_string()));
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let program = launcher.clone().unwrap_or_else(|| binary("berthd"));
        let launch = Launch {
            program: &program,
            through_launcher: launcher.is_some(),
            cgroups,
            ready_within,
        };
        let process = spawn_berthd(&launch, dir.path(), &cgroup_parent, &all, &env);
        Berthd {
            process,
            dir,
            cgroup_parent,
            bridge,
            network_pool,
            extra: all,
            env,
            cgroups,
            launcher,
        }
    }

    /// Kills berthd with SIGKILL, as a crash would, and starts it again on the same data
    /// root, socket and cgroup parent. Its containers are not touched.
    pub fn crash_and_restart(&mut self) {
        self.crash_and_restart_after(|| {});
    }

    /// Like [`Berthd::crash_and_restart`], doing `while_down` between the two: what
    /// happens to containers while no berthd watches them.
    pub fn crash_and_restart_after(&mut self, while_down: impl FnOnce()) {
        self.process
            .signal_and_wait(nix::sys::signal::Signal::SIGKILL, Duration::from_secs(10));
        while_down();
        let program = self.launcher.clone().unwrap_or_else(|| binary("berthd"));
        let launch = Launch {
            program: &program,
            through_launcher: self.launcher.is_some(),
            cgroups: self.cgroups,
            ready_within: START_TIMEOUT,
        };
        self.process = spawn_berthd(
            &launch,
            self.dir.path(),
            &self.cgroup_parent,
            &self.extra,
            &self.env,
        );
    }

    /// The Docker API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("berth.sock")
    }

    /// `unix:///.../berth.sock`, for `docker -H` or `DOCKER_HOST`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where this berthd's container cgroups are, in the hierarchy of `controller` as
    /// this test process sees them (`""`: the unified one).
    pub fn cgroup_dir(&self, controller: &str, id: &str) -> PathBuf {
        let root = Path::new("/sys/fs/cgroup");
        let hierarchy = match controller {
            "" if root.join("unified").is_dir() => root.join("unified"),
            "" => root.to_path_buf(),
            c => root.join(c),
        };
        hierarchy
            .join(self.cgroup_parent.trim_start_matches('/'))
            .join(id)
    }

    /// This berthd's bridge.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// The /24 this berthd's user-defined networks get their subnets from (as /28s);
    /// subnets a test asks for by hand should lie inside it too, so they are cleaned up.
    pub fn network_pool(&self) -> &str {
        &self.network_pool
    }

    /// Where this berthd puts its containers' cgroups.
    pub fn cgroup_parent(&self) -> &str {
        &self.cgroup_parent
    }
}

/// What starts berthd, and how long it may take to be ready.
struct Launch<'a> {
    program: &'a Path,
    /// `program` is not berthd but something that runs it (see [`Berthd::start_through`]).
    through_launcher: bool,
    cgroups: CgroupView,
    ready_within: Duration,
}

fn spawn_berthd(
    launch: &Launch<'_>,
    dir: &Path,
    cgroup_parent: &str,
    extra: &[String],
    env: &[(String, String)],
) -> ChildGuard {
    let mut cmd = match launch.cgroups {
        CgroupView::Host => Command::new(launch.program),
        CgroupView::UnifiedOnly => {
            // The shell mounts the unified hierarchy over /sys/fs/cgroup in the new mount
            // namespace, then becomes berthd, so the guard's pid is berthd's.
            let mut cmd = Command::new(crate::require_tool("unshare", "util-linux"));
            cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg(r#"mount -t cgroup2 none /sys/fs/cgroup && exec "$0" "$@""#)
                .arg(launch.program);
            cmd
        }
    };
    if launch.through_launcher {
        // A launcher may run cargo: it must not inherit what `cargo test` set for the
        // test itself (CARGO_MANIFEST_DIR, CARGO_PKG_*, ...), only where cargo lives.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("CARGO_") && key != "CARGO_HOME" {
                cmd.env_remove(key.as_ref());
            }
        }
    }
    cmd.arg("--data-root")
        .arg(dir.join("root"))
        .arg("-H")
        .arg(format!("unix://{}", dir.join("berth.sock").display()))
        .arg("--cgroup-parent")
        .arg(cgroup_parent)
        .args(extra)
        .envs(env.iter().map(|(k, v)| (k, v)));
    spawn_until("berthd", cmd, "berthd is ready", launch.ready_within).0
}

/// One berth service binary, started alone with `args`; returns once it logs `ready_marker`,
/// with that line.
pub fn spawn_service(name: &str, args: &[&str], ready_marker: &str) -> (ChildGuard, String) {
    spawn_service_with_env(name, args, &[], ready_marker)
}

/// [`spawn_service`] with extra environment variables, such as
/// `OTEL_EXPORTER_OTLP_ENDPOINT` for a test that collects the process's spans.
pub fn spawn_service_with_env(
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
    ready_marker: &str,
) -> (ChildGuard, String) {
    let mut cmd = Command::new(binary(name));
    cmd.args(args)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .envs(env.iter().copied());
    spawn_until(name, cmd, ready_marker, START_TIMEOUT)
}

fn spawn_until(
    name: &str,
    mut cmd: Command,
    marker: &str,
    timeout: Duration,
) -> (ChildGuard, String) {
    let mut child = cmd
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let stderr = child.stderr.take().expect("piped stderr");
    let guard = ChildGuard::new(name, child);
    let line = wait_for_line(name, stderr, marker, timeout)
        .unwrap_or_else(|e| panic!("{name} did not become ready: {e}"));
    (guard, line)
}
