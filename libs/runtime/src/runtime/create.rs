//! `Runtime::create`: writes the bundle (OCI spec + berth.json) and starts the container's
//! monitor, returning once the monitor reports the container process exists ("created"),
//! or with the monitor's error. Never leaves a half-made state directory behind.

use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::{ContainerHandle, Runtime};
use crate::cgroups::{self, HostSupport};
use crate::config::ContainerConfig;
use crate::error::{Error, IoContext, Result};
use crate::spec::{self, SpecContext};
use crate::state::{self, MonitorConfig, MonitorSpec, Sync, files};
use berth_monitor::protocol::Reply;

/// How long a monitor may take to create a container.
const CREATE_TIMEOUT: Duration = Duration::from_secs(60);

/// libcontainer bind-mounts a file only where its destination, resolved inside the root,
/// is a file already or can be created with `O_EXCL`: an image whose `/etc/hosts` is a
/// dangling symlink (to `/elsewhere/hosts`) would fail the create. runc creates the
/// link's target inside the root; so does this, through the in-root resolver, so the
/// mount lands at the container's own `/elsewhere/hosts`, never at a host path.
fn prepare_engine_file_targets(rootfs: &Path, config: &ContainerConfig) -> Result<()> {
    if config.engine_files.is_empty() {
        return Ok(());
    }
    let root = berth_rootpath::InRoot::open(rootfs)?;
    for file in &config.engine_files {
        root.ensure_file(&file.destination).map_err(|e| {
            Error::InvalidConfig(format!(
                "cannot mount {} in the container: the image's {0}: {}; fix it in the image",
                file.destination,
                e.reason()
            ))
        })?;
    }
    Ok(())
}

impl Runtime {
    /// Creates container `id` from `config` on the prepared root filesystem `rootfs`.
    pub fn create(
        &self,
        id: &str,
        config: &ContainerConfig,
        rootfs: &Path,
    ) -> Result<ContainerHandle> {
        let dir = self.state_dir(id)?;
        if dir.exists() {
            return Err(Error::AlreadyExists(id.to_string()));
        }
        if !self.monitor.is_file() {
            return Err(super::find_monitor()
                .err()
                .unwrap_or_else(|| Error::MonitorNotFound(vec![self.monitor.clone()])));
        }
        let spawn = self.spawn_binary();
        if !spawn.is_file() {
            return Err(Error::MonitorNotFound(vec![spawn]));
        }
        let rootfs = std::fs::canonicalize(rootfs).ctx(|| {
            format!(
                "the root filesystem {} is not usable; prepare it first",
                rootfs.display()
            )
        })?;
        prepare_engine_file_targets(&rootfs, config)?;
        std::fs::create_dir(&dir).ctx(|| format!("creating {}", dir.display()))?;
        let result = self.create_in(id, config, &rootfs, &dir);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        result
    }

    fn create_in(
        &self,
        id: &str,
        config: &ContainerConfig,
        rootfs: &Path,
        dir: &Path,
    ) -> Result<ContainerHandle> {
        let host = HostSupport::detect();
        let cgroups_path = cgroups::join_cgroup(&self.cgroup_parent, id);
        let ctx = SpecContext {
            id,
            rootfs,
            cgroups_path: &cgroups_path,
            host: &host,
            bounding: spec::capabilities::daemon_bounding_set(),
            hard_limit: spec::current_hard_limit,
            nofile_hard: spec::daemon_nofile_hard(),
        };
        let built = spec::build(config, &ctx)?;
        // Durable: after a host crash, these two are what recreates the container.
        state::write_json(&dir.join(files::SPEC), &built.spec, Sync::Durable)?;
        let log_path = config
            .log
            .path
            .clone()
            .unwrap_or_else(|| dir.join(files::LOG));
        let monitor_spec = MonitorSpec {
            monitor: MonitorConfig {
                id: id.to_string(),
                log_path: log_path.clone(),
                log_max_size: config.log.max_size,
                log_max_file: config.log.max_file,
                tty: config.tty,
                open_stdin: config.open_stdin,
                oom_counter: cgroups::oom_counter(&cgroups::CgroupDirs::new(&cgroups_path)),
                spawn: self.spawn_binary(),
            },
            config: config.clone(),
            cgroups_path: cgroups_path.clone(),
        };
        state::write_json(&dir.join(files::MONITOR_SPEC), &monitor_spec, Sync::Durable)?;

        let reply = self.spawn_monitor(dir)?;
        if let Some(message) = reply.error {
            return Err(Error::Monitor {
                id: id.to_string(),
                message,
            });
        }
        let pid = reply.pid.ok_or_else(|| Error::Monitor {
            id: id.to_string(),
            message: "the monitor reported no pid".into(),
        })?;
        Ok(ContainerHandle {
            id: id.to_string(),
            pid,
            state_dir: dir.to_path_buf(),
            log_path,
            cgroups_path,
            warnings: built.warnings,
        })
    }

    /// Starts `berth-monitor` for the bundle in `dir` and reads its one-line report.
    /// The monitor gets the ready pipe on descriptor 3 and the sealed copy of berth-spawn
    /// on descriptor 4.
    fn spawn_monitor(&self, dir: &Path) -> Result<Reply> {
        let (read_end, write_end): (OwnedFd, OwnedFd) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| Error::sys("creating the ready pipe", e))?;
        let sealed = sealed_spawn(&self.spawn_binary())?;
        // Both above 4, so neither dup2 below overwrites the other's source.
        let high = |fd: &OwnedFd, what: &str| -> Result<OwnedFd> {
            let raw = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(5))
                .map_err(|e| Error::sys(what, e))?;
            // SAFETY: F_DUPFD_CLOEXEC just returned this new descriptor; we own it alone.
            Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(raw) })
        };
        let ready_src = high(&write_end, "duplicating the ready pipe")?;
        let spawn_src = high(&sealed, "duplicating berth-spawn's sealed copy")?;
        let plan = [(ready_src.as_raw_fd(), 3), (spawn_src.as_raw_fd(), 4)];
        let mut cmd = Command::new(&self.monitor);
        cmd.arg("--ready-fd")
            .arg("3")
            .arg("--spawn-fd")
            .arg("4")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: the closure only calls dup2, which is async-signal-safe, on descriptors
        // that stay open in the parent until after spawn returns.
        unsafe {
            cmd.pre_exec(move || {
                for (from, to) in plan {
                    if libc::dup2(from, to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .ctx(|| format!("starting {}", self.monitor.display()))?;
        drop((write_end, ready_src, spawn_src));
        // The monitor forks and its first process exits at once; the daemon carries on.
        let status = child
            .wait()
            .ctx(|| "waiting for the monitor to daemonise".into())?;
        if !status.success() {
            return Err(self.monitor_failure(dir, format!("the monitor exited with {status}")));
        }
        let mut fds = [PollFd::new(read_end.as_fd(), PollFlags::POLLIN)];
        let timeout =
            PollTimeout::try_from(CREATE_TIMEOUT.as_millis() as i32).unwrap_or(PollTimeout::NONE);
        match poll(&mut fds, timeout) {
            Ok(0) => {
                return Err(
                    self.monitor_failure(dir, "the monitor did not report within 60s".into())
                );
            }
            Ok(_) => {}
            Err(e) => return Err(Error::sys("waiting for the monitor", e)),
        }
        let mut line = String::new();
        // The container's init holds a copy of the pipe until it execs, so read one line,
        // never to EOF.
        let n = BufReader::new(std::fs::File::from(read_end))
            .read_line(&mut line)
            .ctx(|| "reading the monitor's report".into())?;
        if n == 0 {
            return Err(self.monitor_failure(dir, "the monitor exited without reporting".into()));
        }
        serde_json::from_str(&line).map_err(|e| Error::json("reading the monitor's report", e))
    }

    fn monitor_failure(&self, dir: &Path, what: String) -> Error {
        let log = std::fs::read_to_string(dir.join(files::MONITOR_LOG)).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        let detail = tail.into_iter().rev().collect::<Vec<_>>().join("; ");
        Error::Monitor {
            id: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            message: format!("{what}: {detail}"),
        }
    }
}

/// One sealed in-memory copy of `berth-spawn` per executable path, made on first use and
/// shared by every monitor this process starts: berth-spawn must never run from the
/// host's file (see `spawn::sealed_exe`), and copying it once here spares every create
/// and exec the copy it would otherwise make of itself.
fn sealed_spawn(path: &Path) -> Result<std::sync::Arc<OwnedFd>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static COPIES: OnceLock<Mutex<HashMap<std::path::PathBuf, Arc<OwnedFd>>>> = OnceLock::new();
    let mut copies = COPIES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(copy) = copies.get(path) {
        return Ok(copy.clone());
    }
    let file = std::fs::File::open(path).ctx(|| format!("opening {}", path.display()))?;
    let copy = Arc::new(crate::spawn::sealed_exe::sealed_copy(file)?);
    copies.insert(path.to_path_buf(), copy.clone());
    Ok(copy)
}
