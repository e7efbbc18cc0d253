//! Answers the control protocol (start, signal, resize, attach, wait, exec) and writes
//! the exit record. Never touches another container than its own.

use crate::console;
use crate::error::{Error, Result};
use crate::json_log::Stream;
use crate::protocol::{ExecConfig, Reply, Request, stream};
use crate::spawn::{Action, ChildStdio, Spawner};
use crate::state::{self, ExitRecord, RecordedStatus, Sync, files};
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
        let Some(mut creator) = self.creator.take() else {
            return Err(Error::InvalidState {
                id: self.spec.id.clone(),
                state: "no longer startable".into(),
                hint: "its creator is gone (the container died before start); create it again",
            });
        };
        // berth-spawn starts it, answers and exits; the container's init is then
        // re-parented to this monitor.
        creator.send(crate::spawn::START)?;
        creator.reply("starting the container")?;
        self.record.status = RecordedStatus::Running;
        self.record.started_at = Some(state::now_rfc3339_nano());
        state::write_json(
            &self.state_dir.join(files::STATE),
            &self.record,
            Sync::Volatile,
        )
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

    pub(super) fn exec(&mut self, idx: usize, cfg: &ExecConfig) -> Result<Pid> {
        if self.record.status != RecordedStatus::Running || self.init_exit.is_some() {
            return Err(Error::InvalidState {
                id: self.spec.id.clone(),
                state: "not running".into(),
                hint: "start the container first",
            });
        }
        if cfg.args.is_empty() {
            return Err(Error::InvalidConfig(
                "exec needs a command: pass the program and its arguments".into(),
            ));
        }
        let n = self.next_id;
        self.next_id += 1;
        let (stdio, listener, console_path, (out, tty, stdin_fd)) = if cfg.tty {
            let path = console::socket_path(&self.state_dir.join(format!("exec-{n}.sock")));
            let l = console::listen(&path)?;
            (
                ChildStdio::Console(path.clone()),
                Some(l),
                Some(path),
                ([None, None], None, None),
            )
        } else {
            let (out_r, out_w) = crate::daemon::pipe()?;
            let (err_r, err_w) = crate::daemon::pipe()?;
            let (stdin_w, child_stdin) = if cfg.attach_stdin {
                let (in_r, in_w) = crate::daemon::pipe()?;
                (Some(in_w), in_r)
            } else {
                let null = std::fs::File::open("/dev/null")
                    .map_err(|e| Error::io("opening /dev/null", e))?;
                (None, std::os::fd::OwnedFd::from(null))
            };
            (
                ChildStdio::Pipes([child_stdin, out_w, err_w]),
                None,
                None,
                ([Some(out_r), Some(err_r)], None, stdin_w),
            )
        };
        let spawned = Spawner::run(&self.spec.spawn, Action::Exec, &self.state_dir, stdio)
            .and_then(|mut spawner| {
                let mut line = serde_json::to_vec(cfg)
                    .map_err(|e| Error::json("encoding the exec configuration", e))?;
                line.push(b'\n');
                spawner.send(&line)?;
                spawner.reply("starting the exec process")
            });
        let pid = match spawned {
            Ok(pid) => Pid::from_raw(pid),
            Err(e) => {
                if let Some(p) = &console_path {
                    let _ = std::fs::remove_file(p);
                }
                return Err(e);
            }
        };
        let tty = match (listener, tty) {
            (Some(l), _) => {
                let master = console::receive_master(&l);
                if let Some(p) = &console_path {
                    let _ = std::fs::remove_file(p);
                }
                Some(master?)
            }
            (None, tty) => tty,
        };
        nonblocking_stdio(&out, tty.as_ref(), stdin_fd.as_ref());
        self.clients[idx].role = Role::Exec(pid);
        self.execs.push(ExecProc {
            pid,
            client: Some(self.clients[idx].id),
            out,
            tty,
            stdin: Stdin::new(stdin_fd),
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
                            error: None,
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
        let oom = self
            .spec
            .oom_counter
            .as_deref()
            .is_some_and(|f| crate::oom_kill_count(f) > 0);
        let exit = ExitRecord {
            exit_code: code,
            oom_killed: oom,
            finished_at: state::now_rfc3339_nano(),
            error: None,
        };
        if let Err(e) = state::write_json(&self.state_dir.join(files::EXIT), &exit, Sync::Volatile)
        {
            eprintln!("berth-monitor: {e}");
        }
        self.record.status = RecordedStatus::Exited;
        let _ = state::write_json(
            &self.state_dir.join(files::STATE),
            &self.record,
            Sync::Volatile,
        );
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
