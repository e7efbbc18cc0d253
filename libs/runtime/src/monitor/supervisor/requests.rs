//! Answers the control protocol (start, signal, resize, attach, wait, exec) and writes
//! the exit record. Never touches another container than its own.

use crate::cgroups::{CgroupDirs, oom_kill_count};
use crate::error::{Error, Result};
use crate::monitor::console;
use crate::monitor::exec::{self, ExecIo};
use crate::monitor::json_log::Stream;
use crate::monitor::protocol::{Reply, Request, stream};
use crate::state::{self, ExitRecord, RecordedStatus, files};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::endpoints::Role;
use super::*;

impl Supervisor {
    pub(super) fn request(&mut self, idx: usize, req: Request) {
        let result: Result<Reply> = match req {
            Request::Start => self.start().map(|()| Reply::default()),
            Request::Signal { signal } => self.signal(signal).map(|()| Reply::default()),
            Request::Resize {
                width,
                height,
                exec_pid,
            } => self
                .resize(width, height, exec_pid)
                .map(|()| Reply::default()),
            Request::Attach {
                stdin,
                stdout,
                stderr,
            } => {
                self.clients[idx].role = Role::Attach {
                    stdin,
                    stdout,
                    stderr,
                };
                self.clients[idx].reply(&Reply::default());
                if let Some(exit) = self.exit.clone() {
                    let c = &mut self.clients[idx];
                    c.frame(stream::EXIT, &serde_json::to_vec(&exit).unwrap_or_default());
                    c.close_when_flushed = true;
                }
                return;
            }
            Request::Wait => {
                let c = &mut self.clients[idx];
                c.role = Role::Waiter;
                if let Some(exit) = self.exit.clone() {
                    c.reply(&Reply {
                        exit: Some(exit),
                        ..Default::default()
                    });
                    c.close_when_flushed = true;
                }
                return;
            }
            Request::Exec { config } => match self.exec(idx, &config) {
                Ok(pid) => {
                    self.clients[idx].reply(&Reply {
                        pid: Some(pid.as_raw()),
                        ..Default::default()
                    });
                    return;
                }
                Err(e) => Err(e),
            },
        };
        let c = &mut self.clients[idx];
        match result {
            Ok(reply) => c.reply(&reply),
            Err(e) => c.reply(&Reply {
                error: Some(e.to_string()),
                ..Default::default()
            }),
        }
        c.close_when_flushed = true;
    }

    pub(super) fn start(&mut self) -> Result<()> {
        if self.record.status != RecordedStatus::Created || self.init_exit.is_some() {
            return Err(Error::InvalidState {
                id: self.spec.id.clone(),
                state: if self.init_exit.is_some() {
                    "exited".into()
                } else {
                    "running".into()
                },
                hint: "only a created container can be started; create it again",
            });
        }
        self.container
            .start()
            .map_err(|e| Error::container("starting the container", e))?;
        self.record.status = RecordedStatus::Running;
        self.record.started_at = Some(state::now_rfc3339_nano());
        state::write_json(&self.state_dir.join(files::STATE), &self.record)
    }

    pub(super) fn signal(&mut self, signal: i32) -> Result<()> {
        if self.init_exit.is_some() {
            return Err(Error::InvalidState {
                id: self.spec.id.clone(),
                state: "exited".into(),
                hint: "there is nothing to signal",
            });
        }
        let sig = Signal::try_from(signal).map_err(|_| {
            Error::InvalidConfig(format!(
                "invalid signal {signal}: use a number from signal(7)"
            ))
        })?;
        nix::sys::signal::kill(self.init, sig)
            .map_err(|e| Error::sys(format!("sending {sig} to the container"), e))
    }

    pub(super) fn resize(&mut self, width: u16, height: u16, exec_pid: Option<i32>) -> Result<()> {
        let master = match exec_pid {
            None => self.tty.as_ref(),
            Some(pid) => self
                .execs
                .iter()
                .find(|e| e.pid.as_raw() == pid)
                .and_then(|e| e.tty.as_ref()),
        };
        let master = master.ok_or_else(|| Error::InvalidState {
            id: self.spec.id.clone(),
            state: "without a terminal".into(),
            hint: "only a container or exec started with a TTY can be resized",
        })?;
        console::resize(master, width, height)
    }

    pub(super) fn exec(&mut self, idx: usize, cfg: &crate::config::ExecConfig) -> Result<Pid> {
        if self.record.status != RecordedStatus::Running || self.init_exit.is_some() {
            return Err(Error::InvalidState {
                id: self.spec.id.clone(),
                state: "not running".into(),
                hint: "start the container first",
            });
        }
        let n = self.next_id;
        self.next_id += 1;
        let lc_root = self.state_dir.join(files::LIBCONTAINER_ROOT);
        let (pid, io) = exec::spawn(&self.spec.id, &self.state_dir, &lc_root, &self.oci, cfg, n)?;
        // SAFETY: malloc_trim only releases free heap memory; no pointer is invalidated.
        unsafe { libc::malloc_trim(0) };
        let (out, tty, stdin_fd) = match io {
            ExecIo::Pipes {
                stdin,
                stdout,
                stderr,
            } => ([Some(stdout), Some(stderr)], None, stdin),
            ExecIo::Tty(master) => ([None, None], Some(master), None),
        };
        for fd in out
            .iter()
            .flatten()
            .chain(tty.iter())
            .chain(stdin_fd.iter())
        {
            set_nonblocking(fd);
        }
        self.clients[idx].role = Role::Exec(pid);
        self.execs.push(ExecProc {
            pid,
            client: Some(self.clients[idx].id),
            out,
            tty,
            stdin: Stdin {
                fd: stdin_fd,
                queue: Vec::new(),
                close_when_flushed: false,
            },
            exit: None,
        });
        // A process that exited before we listened for it.
        self.reap();
        Ok(pid)
    }

    pub(super) fn finish_execs(&mut self) {
        let mut i = 0;
        while i < self.execs.len() {
            let e = &self.execs[i];
            let drained = e.out.iter().all(Option::is_none) && e.tty.is_none();
            match e.exit {
                Some((code, at)) if drained || at.elapsed() > DRAIN => {
                    let e = self.execs.remove(i);
                    if let Some(c) = self.clients.iter_mut().find(|c| Some(c.id) == e.client) {
                        let exit = ExitRecord {
                            exit_code: code,
                            oom_killed: false,
                            finished_at: state::now_rfc3339_nano(),
                        };
                        c.frame(stream::EXIT, &serde_json::to_vec(&exit).unwrap_or_default());
                        c.close_when_flushed = true;
                    }
                }
                _ => i += 1,
            }
        }
    }

    /// Records the exit and answers everyone waiting for it.
    pub(super) fn finish(&mut self) {
        let code = self.init_exit.map(|(c, _)| c).unwrap_or(-1);
        let _ = self.log.finish(Stream::Stdout);
        let _ = self.log.finish(Stream::Stderr);
        let oom = oom_kill_count(&CgroupDirs::new(&self.spec.cgroups_path)) > 0;
        let exit = ExitRecord {
            exit_code: code,
            oom_killed: oom,
            finished_at: state::now_rfc3339_nano(),
        };
        if let Err(e) = state::write_json(&self.state_dir.join(files::EXIT), &exit) {
            eprintln!("berth-monitor: {e}");
        }
        self.record.status = RecordedStatus::Exited;
        let _ = state::write_json(&self.state_dir.join(files::STATE), &self.record);
        let payload = serde_json::to_vec(&exit).unwrap_or_default();
        for c in &mut self.clients {
            match c.role {
                Role::Attach { .. } => c.frame(stream::EXIT, &payload),
                Role::Waiter => c.reply(&Reply {
                    exit: Some(exit.clone()),
                    ..Default::default()
                }),
                _ => {}
            }
            c.close_when_flushed = true;
        }
        self.exit = Some(exit);
    }
}
