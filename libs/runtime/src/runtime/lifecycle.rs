//! The verbs after create: start, kill, wait, state, pause/resume, stats, attach, exec,
//! resize and delete. Start, signals, attach and exec go through the container's monitor;
//! pause/resume go to libcontainer directly (freezer writes only); state and stats read
//! files. None of these ever clones the process or changes its working directory.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use libcontainer::container::Container;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::session::{Session, round_trip};
use super::{ContainerState, Runtime, Status};
use crate::ExecConfig;
use crate::cgroups::{self, CgroupDirs, CgroupStats};
use crate::error::{Error, Result};
use crate::state::{self, ContainerRecord, ExitRecord, RecordedStatus, files};
use berth_monitor::protocol::{self, Reply, Request};

fn load_container(dir: &Path, id: &str) -> Result<Container> {
    Container::load(dir.join(files::LIBCONTAINER_ROOT).join(id))
        .map_err(|e| Error::container(format!("loading container {id}"), e))
}

fn monitor_alive(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join(files::MONITOR_PID)) else {
        return false;
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return false;
    };
    let Some(start) = state::process_start_time(pid) else {
        return false;
    };
    state::process_alive(pid, start)
}

impl Runtime {
    /// Starts a created container.
    pub fn start(&self, id: &str) -> Result<()> {
        let dir = self.existing(id)?;
        round_trip(id, &dir, &Request::Start, Some(Duration::from_secs(30))).map(|_| ())
    }

    /// Sends `signal` to the container's init (Docker's kill).
    pub fn kill(&self, id: &str, signal: i32) -> Result<()> {
        let dir = self.existing(id)?;
        let st = self.state(id)?;
        match st.status {
            Status::Exited => {
                return Err(Error::InvalidState {
                    id: id.into(),
                    state: "not running".into(),
                    hint: "there is nothing to signal",
                });
            }
            Status::Paused => {
                return Err(Error::InvalidState {
                    id: id.into(),
                    state: "paused".into(),
                    hint: "unpause the container before stopping or killing it",
                });
            }
            _ => {}
        }
        match round_trip(
            id,
            &dir,
            &Request::Signal { signal },
            Some(Duration::from_secs(10)),
        ) {
            Ok(_) => Ok(()),
            // The monitor is gone but the process runs on: signal it directly.
            Err(Error::Monitor { .. }) if st.pid.is_some() && !st.monitor_alive => {
                let sig = Signal::try_from(signal)
                    .map_err(|_| Error::InvalidConfig(format!("invalid signal {signal}")))?;
                nix::sys::signal::kill(Pid::from_raw(st.pid.unwrap_or(0)), sig)
                    .map_err(|e| Error::sys("signalling the container", e))
            }
            Err(e) => Err(e),
        }
    }

    /// Asks the container's monitor to report its exit, without waiting for it: the
    /// returned socket becomes readable when the container exits (or closes if the
    /// monitor dies). An async caller waits for that readiness on its own reactor, then
    /// calls [`Runtime::finish_wait`]: no thread is held per waiting container, however
    /// many there are. `None` when there is no monitor to ask (the container has exited
    /// already, or its monitor died): [`Runtime::wait`] then answers from the files.
    pub fn start_wait(&self, id: &str) -> Result<Option<UnixStream>> {
        let dir = self.existing(id)?;
        let Ok(mut stream) = super::session::connect(&dir) else {
            return Ok(None);
        };
        // A monitor that is just finishing may close the connection under the request.
        Ok(protocol::write_request(&mut stream, &Request::Wait)
            .is_ok()
            .then_some(stream))
    }

    /// Reads the exit record from a socket of [`Runtime::start_wait`] that is readable,
    /// or waits as [`Runtime::wait`] does when the monitor closed it without an answer.
    pub fn finish_wait(&self, id: &str, mut stream: UnixStream) -> Result<ExitRecord> {
        match protocol::read_reply(&mut stream) {
            Ok(Reply {
                exit: Some(exit), ..
            }) => Ok(exit),
            _ => self.wait(id, None),
        }
    }

    /// Waits until the container has exited (at most `timeout`) and returns its exit record.
    pub fn wait(&self, id: &str, timeout: Option<Duration>) -> Result<ExitRecord> {
        let dir = self.existing(id)?;
        let deadline = timeout.map(|t| Instant::now() + t);
        if let Ok((_, reply)) = round_trip(id, &dir, &Request::Wait, timeout)
            && let Some(exit) = reply.exit
        {
            return Ok(exit);
        }
        // No monitor (it finished, or died): watch the files and the process.
        loop {
            if let Some(exit) = state::read_json_lenient::<ExitRecord>(&dir.join(files::EXIT))? {
                return Ok(exit);
            }
            let st = self.state(id)?;
            if st.status == Status::Exited {
                return Ok(ExitRecord {
                    exit_code: st.exit_code.unwrap_or(-1),
                    oom_killed: st.oom_killed,
                    finished_at: st.finished_at.unwrap_or_default(),
                    error: st.error,
                });
            }
            if let (false, Some(pid)) = (st.monitor_alive, st.pid) {
                return self.kill_orphan(id, &dir, pid);
            }
            if deadline.is_some_and(|d| Instant::now() > d) {
                return Err(Error::InvalidState {
                    id: id.into(),
                    state: "still running".into(),
                    hint: "the wait timed out; stop the container or wait longer",
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Removes whatever a create that never finished left of `id` (its runner crashed
    /// midway): the monitor and the processes of its group (a `berth-spawn` waiting to
    /// start the init), the init, the libcontainer state, the cgroups and the state
    /// directory. Unlike [`Runtime::delete`] it needs none of the records a finished
    /// create writes, and never waits on a monitor.
    pub fn destroy_unfinished(&self, id: &str) -> Result<()> {
        let dir = self.state_dir(id)?;
        if !dir.exists() {
            return Ok(());
        }
        if let Some(pid) = std::fs::read_to_string(dir.join(files::MONITOR_PID))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            && monitor_alive(&dir)
        {
            // The monitor daemonised into a process group of its own, with the
            // berth-spawn it runs: the whole group goes.
            if let Ok(group) = nix::unistd::getpgid(Some(Pid::from_raw(pid)))
                && group.as_raw() > 1
                && group != nix::unistd::getpgrp()
            {
                let _ = nix::sys::signal::killpg(group, Signal::SIGKILL);
            }
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if let Ok(Some(record)) =
            state::read_json_lenient::<ContainerRecord>(&dir.join(files::STATE))
            && record.pid > 0
            && state::process_alive(record.pid, record.pid_start_time)
        {
            let _ = nix::sys::signal::kill(Pid::from_raw(record.pid), Signal::SIGKILL);
        }
        // libcontainer's own delete kills what is left in the container's cgroup.
        if let Ok(mut c) = load_container(&dir, id)
            && let Err(e) = c.delete(true)
        {
            tracing::warn!(id, error = %e, "libcontainer delete of an unfinished create failed");
        }
        if let Ok(spec) = self.monitor_spec(id) {
            let deadline = Instant::now() + Duration::from_secs(5);
            while let Err(e) = cgroups::remove(&spec.cgroups_path) {
                if Instant::now() > deadline {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        std::fs::remove_dir_all(&dir)
            .map_err(|e| Error::io(format!("removing {}", dir.display()), e))
    }

    /// Ends a container whose monitor died while it ran (killed, crashed): nothing
    /// collects its output, answers exec or records its exit any more, so it is killed
    /// and recorded as exited with 137 and the reason, as Docker does when a
    /// containerd-shim dies. `pid` is its init, checked alive (with its start time) by
    /// [`Runtime::state`].
    fn kill_orphan(&self, id: &str, dir: &Path, pid: i32) -> Result<ExitRecord> {
        tracing::warn!(
            container = id,
            pid,
            "the container's monitor died: killing the container"
        );
        // Its PID namespace's init: the kernel takes every other process with it.
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.state(id)?.pid.is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let exit = ExitRecord {
            exit_code: 128 + Signal::SIGKILL as i32,
            oom_killed: false,
            finished_at: state::now_rfc3339_nano(),
            error: Some(
                "berth-monitor, the process that supervised the container, died; the container ran unsupervised (no logs, exec or exit status) and was killed"
                    .into(),
            ),
        };
        state::write_json(&dir.join(files::EXIT), &exit, state::Sync::Volatile)?;
        Ok(exit)
    }

    /// The container's current state.
    pub fn state(&self, id: &str) -> Result<ContainerState> {
        let dir = self.existing(id)?;
        let spec = self.monitor_spec(id)?;
        // The monitor writes these without syncing: after a host crash either may be
        // empty, and reads as absent.
        let record: Option<ContainerRecord> = state::read_json_lenient(&dir.join(files::STATE))?;
        let exit: Option<ExitRecord> = state::read_json_lenient(&dir.join(files::EXIT))?;
        let monitor_alive = monitor_alive(&dir);
        let record = match record {
            Some(record) => record,
            None if monitor_alive => {
                return Err(Error::Monitor {
                    id: id.into(),
                    message: "the container is still being created; try again".into(),
                });
            }
            // No monitor and no readable state: a create that died half-way or a host
            // crash. Either way nothing runs; say exited, so it can be started anew.
            None => ContainerRecord {
                status: RecordedStatus::Exited,
                pid: 0,
                pid_start_time: 0,
                monitor_pid: 0,
                created_at: String::new(),
                started_at: None,
                tty: false,
            },
        };
        let mut st = ContainerState {
            id: id.to_string(),
            status: Status::Exited,
            pid: None,
            exit_code: None,
            oom_killed: false,
            created_at: record.created_at.clone(),
            started_at: record.started_at.clone(),
            finished_at: None,
            monitor_alive,
            error: None,
        };
        if let Some(exit) = exit {
            st.exit_code = Some(exit.exit_code);
            st.oom_killed = exit.oom_killed;
            st.finished_at = Some(exit.finished_at);
            st.error = exit.error;
        } else if state::process_alive(record.pid, record.pid_start_time) {
            st.pid = Some(record.pid);
            st.status = if cgroups::is_frozen(&CgroupDirs::new(&spec.cgroups_path)) {
                Status::Paused
            } else if record.started_at.is_some() {
                Status::Running
            } else {
                Status::Created
            };
        } else {
            // Both the process and its monitor are gone without an exit record.
            st.oom_killed = cgroups::oom_kill_count(&CgroupDirs::new(&spec.cgroups_path)) > 0;
        }
        Ok(st)
    }

    /// Freezes every process of the container.
    pub fn pause(&self, id: &str) -> Result<()> {
        let dir = self.existing(id)?;
        if self.state(id)?.status != Status::Running {
            return Err(Error::InvalidState {
                id: id.into(),
                state: "not running".into(),
                hint: "only a running container can be paused",
            });
        }
        load_container(&dir, id)?
            .pause()
            .map_err(|e| Error::container(format!("pausing {id}"), e))
    }

    /// Thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<()> {
        let dir = self.existing(id)?;
        if self.state(id)?.status != Status::Paused {
            return Err(Error::InvalidState {
                id: id.into(),
                state: "not paused".into(),
                hint: "only a paused container can be unpaused",
            });
        }
        load_container(&dir, id)?
            .resume()
            .map_err(|e| Error::container(format!("resuming {id}"), e))
    }

    /// Memory, CPU and pids usage from the container's cgroup.
    pub fn stats(&self, id: &str) -> Result<CgroupStats> {
        let spec = self.monitor_spec(id)?;
        CgroupStats::read(&CgroupDirs::new(&spec.cgroups_path))
    }

    /// The host pids of every process in the container (its cgroup), for `docker top`.
    pub fn processes(&self, id: &str) -> Result<Vec<i32>> {
        let spec = self.monitor_spec(id)?;
        let dirs = CgroupDirs::new(&spec.cgroups_path);
        let procs = dirs
            .read("pids", "cgroup.procs")
            .or_else(|_| dirs.read("memory", "cgroup.procs"))?;
        Ok(procs
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect())
    }

    /// Attaches to the container's streams.
    pub fn attach(&self, id: &str, stdin: bool, stdout: bool, stderr: bool) -> Result<Session> {
        let dir = self.existing(id)?;
        let (s, _) = round_trip(
            id,
            &dir,
            &Request::Attach {
                stdin,
                stdout,
                stderr,
            },
            Some(Duration::from_secs(10)),
        )?;
        Ok(Session::new(s, None))
    }

    /// Runs a process inside the running container; the session streams its output and
    /// ends with its exit code.
    pub fn exec(&self, id: &str, config: &ExecConfig) -> Result<Session> {
        let dir = self.existing(id)?;
        let (s, reply) = round_trip(
            id,
            &dir,
            &Request::Exec {
                config: config.clone(),
            },
            Some(Duration::from_secs(30)),
        )?;
        Ok(Session::new(s, reply.pid))
    }

    /// Resizes the terminal of the container, or of the exec with `exec_pid`.
    pub fn resize(&self, id: &str, width: u16, height: u16, exec_pid: Option<i32>) -> Result<()> {
        let dir = self.existing(id)?;
        round_trip(
            id,
            &dir,
            &Request::Resize {
                width,
                height,
                exec_pid,
            },
            Some(Duration::from_secs(10)),
        )
        .map(|_| ())
    }

    /// Deletes the container: its processes (only with `force` while it runs), its cgroup
    /// and its state directory.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let dir = self.existing(id)?;
        let spec = self.monitor_spec(id)?;
        let st = self.state(id);
        let exited = st.as_ref().is_ok_and(|st| st.status == Status::Exited);
        if let Ok(st) = &st
            && !exited
        {
            if !force {
                return Err(Error::InvalidState {
                    id: id.into(),
                    state: format!("{:?}", st.status).to_lowercase(),
                    hint: "stop the container before removing it, or force the removal",
                });
            }
            if st.status == Status::Paused {
                self.resume(id)?;
            }
            if let Some(pid) = st.pid {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            if st.monitor_alive {
                let _ = self.wait(id, Some(Duration::from_secs(10)));
            }
        }
        // Let the monitor finish writing before its directory goes away.
        let deadline = Instant::now() + Duration::from_secs(3);
        while monitor_alive(&dir) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // An exited container leaves only its cgroup and state directory, removed below;
        // libcontainer's delete (it re-parses mountinfo per controller) would cost 3 ms of
        // every `docker rm`. A container that ran until now gets it: it kills whatever
        // still runs in the cgroup.
        if !exited
            && let Ok(mut c) = load_container(&dir, id)
            && let Err(e) = c.delete(true)
        {
            tracing::warn!(id, error = %e, "libcontainer delete failed; removing what is left by hand");
        }
        cgroups::remove(&spec.cgroups_path)?;
        std::fs::remove_dir_all(&dir)
            .map_err(|e| Error::io(format!("removing {}", dir.display()), e))
    }
}
