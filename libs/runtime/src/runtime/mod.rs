//! The library API the runner uses: [`Runtime`] creates containers (each under its own
//! `berth-monitor` process), starts, signals, waits for, pauses, inspects, measures and
//! deletes them, and runs execs. Every call blocks (file I/O, a unix socket round trip,
//! sometimes a short wait); an async caller runs them in `spawn_blocking`. Nothing here
//! clones the process or changes the working directory, so it is safe inside a
//! multi-threaded runner; anything in libcontainer that does either runs in the monitor.

mod create;
mod lifecycle;
mod session;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use session::{Frame, Session, StdinWriter};

use crate::error::{Error, IoContext, Result};
use crate::state::{MonitorSpec, files};

/// The name of the monitor executable.
pub const MONITOR_BINARY: &str = "berth-monitor";
/// The name of the libcontainer helper the monitor runs; it lives beside the monitor.
pub const SPAWN_BINARY: &str = "berth-spawn";

/// Runs containers, each with its state under `<root>/<id>`.
#[derive(Debug, Clone)]
pub struct Runtime {
    root: PathBuf,
    cgroup_parent: String,
    monitor: PathBuf,
}

/// What `create` hands back.
#[derive(Debug, Clone)]
pub struct ContainerHandle {
    /// container id
    pub id: String,
    /// the container's init pid (host pid namespace)
    pub pid: i32,
    /// the container's state directory (also its OCI bundle)
    pub state_dir: PathBuf,
    /// the json-file log
    pub log_path: PathBuf,
    /// the cgroup path (absolute from each hierarchy's root)
    pub cgroups_path: String,
    /// Docker's create warnings (limits the host cannot apply)
    pub warnings: Vec<String>,
}

/// A container's lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// created, not started
    Created,
    /// running
    Running,
    /// frozen by `pause`
    Paused,
    /// exited
    Exited,
}

/// What `state` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    /// container id
    pub id: String,
    /// lifecycle status
    pub status: Status,
    /// init pid while it runs
    pub pid: Option<i32>,
    /// exit code once exited; `None` if the monitor died before it could record one
    pub exit_code: Option<i32>,
    /// the OOM killer struck
    pub oom_killed: bool,
    /// RFC 3339 times
    pub created_at: String,
    /// when it was started
    pub started_at: Option<String>,
    /// when it exited
    pub finished_at: Option<String>,
    /// the monitor process is alive
    pub monitor_alive: bool,
    /// why it ended, when not by itself (Docker's State.Error)
    pub error: Option<String>,
}

impl ContainerState {
    /// The state of a container between two runs, when the last run's state is gone and
    /// the next one's is not there yet: exited, nothing known.
    pub fn between_runs(id: &str) -> Self {
        ContainerState {
            id: id.to_string(),
            status: Status::Exited,
            pid: None,
            exit_code: None,
            oom_killed: false,
            created_at: String::new(),
            started_at: None,
            finished_at: None,
            monitor_alive: false,
            error: None,
        }
    }
}

fn valid_id(id: &str) -> bool {
    // A leading dot is the runtime's own (the seccomp cache, `.seccomp`), and covers `.`
    // and `..`.
    !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c))
}

fn find_monitor() -> Result<PathBuf> {
    let mut tried = Vec::new();
    if let Some(p) = std::env::var_os("BERTH_MONITOR") {
        return Ok(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        tried.push(dir.join(MONITOR_BINARY));
        // test binaries live in target/<profile>/deps
        tried.push(dir.join("..").join(MONITOR_BINARY));
    }
    if let Some(path) = std::env::var_os("PATH") {
        tried.extend(std::env::split_paths(&path).map(|d| d.join(MONITOR_BINARY)));
    }
    tried
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or(Error::MonitorNotFound(tried))
}

/// Finds `berth-monitor` as a runtime would ([`Runtime::new`]) and checks that it and
/// `berth-spawn` beside it can run; returns the monitor's path. For a binary that starts
/// a runner to refuse to start when they are missing.
pub fn locate_helpers() -> Result<PathBuf> {
    let monitor = find_monitor()?;
    check_beside(&monitor)?;
    Ok(monitor)
}

fn check_beside(monitor: &Path) -> Result<()> {
    let missing: Vec<PathBuf> = [monitor.to_path_buf(), monitor.with_file_name(SPAWN_BINARY)]
        .into_iter()
        .filter(|p| !is_executable(p))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::MonitorNotFound(missing))
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl Runtime {
    /// A runtime keeping state under `root` and container cgroups under `cgroup_parent`
    /// (default: the caller's own cgroup + `/berth`). The monitor executable is found
    /// through `BERTH_MONITOR`, next to the current executable, or on `PATH`.
    pub fn new(root: impl Into<PathBuf>, cgroup_parent: Option<String>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .ctx(|| format!("creating the runtime root {}", root.display()))?;
        let root = std::fs::canonicalize(&root).ctx(|| format!("resolving {}", root.display()))?;
        let cgroup_parent = cgroup_parent.unwrap_or_else(crate::cgroups::default_parent);
        let monitor = find_monitor().unwrap_or_default();
        Ok(Runtime {
            root,
            cgroup_parent,
            monitor,
        })
    }

    /// Fails unless both helpers (`berth-monitor`, and `berth-spawn` beside it) are
    /// executables this process can run. A runner checks at start, so a missing helper
    /// stops it with the command that builds it, instead of failing its first container.
    pub fn check_helpers(&self) -> Result<()> {
        if self.monitor.as_os_str().is_empty() {
            return locate_helpers().map(drop);
        }
        check_beside(&self.monitor)
    }

    /// Uses this monitor executable.
    pub fn with_monitor(mut self, path: impl Into<PathBuf>) -> Self {
        self.monitor = path.into();
        self
    }

    /// `berth-spawn`, which lives beside the monitor executable.
    fn spawn_binary(&self) -> PathBuf {
        self.monitor.with_file_name(SPAWN_BINARY)
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The cgroup parent of new containers.
    pub fn cgroup_parent(&self) -> &str {
        &self.cgroup_parent
    }

    /// The state directory of container `id`.
    pub fn state_dir(&self, id: &str) -> Result<PathBuf> {
        if !valid_id(id) {
            return Err(Error::InvalidConfig(format!(
                "invalid container id {id:?}: use letters, digits, '_', '+', '-' and '.'"
            )));
        }
        Ok(self.root.join(id))
    }

    fn existing(&self, id: &str) -> Result<PathBuf> {
        let dir = self.state_dir(id)?;
        if dir.join(files::MONITOR_SPEC).exists() {
            Ok(dir)
        } else {
            Err(Error::NotFound(id.to_string()))
        }
    }

    fn monitor_spec(&self, id: &str) -> Result<MonitorSpec> {
        let dir = self.existing(id)?;
        crate::state::read_json(&dir.join(files::MONITOR_SPEC))?
            .ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// The configuration container `id` was created from: what starting it again (Docker
    /// restarts an exited container as a new process on the same root) creates anew.
    pub fn config(&self, id: &str) -> Result<crate::config::ContainerConfig> {
        Ok(self.monitor_spec(id)?.config)
    }

    /// The ids of every container under this root, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = std::fs::read_dir(&self.root)
            .ctx(|| format!("listing {}", self.root.display()))?
            .flatten()
            .filter(|e| e.path().join(files::MONITOR_SPEC).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}
