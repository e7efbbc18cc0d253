//! berth's own processes, started for one test: `berthd` or one service alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{ChildGuard, binary, wait_for_line};

/// How long a berth process may take to say it is ready before the test fails. Generous:
/// CI machines are slow and busy; a healthy start takes milliseconds.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `berthd` with its own data root and sockets; stopped on drop.
#[derive(Debug)]
pub struct Berthd {
    pub process: ChildGuard,
    dir: tempfile::TempDir,
}

impl Berthd {
    /// Starts `berthd` and returns once it logs that it is ready.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Like [`Berthd::start`], with extra flags.
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berthd-")
            .tempdir()
            .expect("temporary directory");
        let socket = dir.path().join("berth.sock");
        let mut cmd = Command::new(binary("berthd"));
        cmd.arg("--data-root")
            .arg(dir.path().join("root"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(extra);
        let (process, _) = spawn_until("berthd", cmd, "berthd is ready");
        Berthd { process, dir }
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
    spawn_until(name, cmd, ready_marker)
}

fn spawn_until(name: &str, mut cmd: Command, marker: &str) -> (ChildGuard, String) {
    let mut child = cmd
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let stderr = child.stderr.take().expect("piped stderr");
    let guard = ChildGuard::new(name, child);
    let line = wait_for_line(name, stderr, marker, START_TIMEOUT)
        .unwrap_or_else(|e| panic!("{name} did not become ready: {e}"));
    (guard, line)
}
