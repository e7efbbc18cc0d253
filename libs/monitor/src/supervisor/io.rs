//! Moving bytes: container and exec output to the log and to clients, client input to
//! stdin, accepting connections, and reaping children. Never blocks.

use crate::json_log::Stream;
use crate::protocol::{self, Reply, Request, stream};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read};
use std::time::Instant;

use super::endpoints::{Client, Role, flush_tty, read_some};
use super::*;

impl Supervisor {
    pub(super) fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) => {
                    let Some((pid, code)) = exit_code(status) else {
                        continue;
                    };
                    if pid == self.init {
                        self.init_exit = Some((code, Instant::now()));
                    } else if let Some(e) = self.execs.iter_mut().find(|e| e.pid == pid) {
                        e.exit = Some((code, Instant::now()));
                    }
                }
            }
        }
    }

    pub(super) fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(true);
            let id = self.next_id;
            self.next_id += 1;
            self.clients.push(Client {
                id,
                stream,
                role: Role::Request,
                inbuf: Vec::new(),
                out: VecDeque::new(),
                read_closed: false,
                close_when_flushed: false,
                dead: false,
            });
        }
    }

    pub(super) fn container_output(&mut self, s: Stream) {
        let fd = match s {
            _ if self.tty.is_some() => self.tty.as_ref(),
            Stream::Stdout => self.out[0].as_ref(),
            Stream::Stderr => self.out[1].as_ref(),
        };
        let Some(fd) = fd else { return };
        match read_some(fd, &mut self.buf) {
            Some(0) => {}
            Some(n) => {
                if let Err(e) = self.log.write(s, &self.buf[..n]) {
                    eprintln!("berth-monitor: {e}");
                }
                let id = if s == Stream::Stdout {
                    stream::STDOUT
                } else {
                    stream::STDERR
                };
                for c in &mut self.clients {
                    if let Role::Attach { stdout, stderr, .. } = c.role
                        && ((s == Stream::Stdout && stdout) || (s == Stream::Stderr && stderr))
                    {
                        c.frame(id, &self.buf[..n]);
                    }
                }
            }
            None => {
                let _ = self.log.finish(s);
                if self.tty.is_some() {
                    self.tty = None;
                } else {
                    self.out[s as usize] = None;
                }
            }
        }
    }

    pub(super) fn exec_output(&mut self, pid: Pid, s: Option<Stream>) {
        let Some(e) = self.execs.iter_mut().find(|e| e.pid == pid) else {
            return;
        };
        let fd = match s {
            Some(s) => e.out[s as usize].as_ref(),
            None => e.tty.as_ref(),
        };
        let Some(fd) = fd else { return };
        match read_some(fd, &mut self.buf) {
            Some(0) => {}
            Some(n) => {
                let id = if s == Some(Stream::Stderr) {
                    stream::STDERR
                } else {
                    stream::STDOUT
                };
                if let Some(c) = self.clients.iter_mut().find(|c| Some(c.id) == e.client) {
                    c.frame(id, &self.buf[..n]);
                }
            }
            None => match s {
                Some(s) => e.out[s as usize] = None,
                None => e.tty = None,
            },
        }
    }

    pub(super) fn client_input(&mut self, id: u64) {
        let Some(idx) = self.clients.iter().position(|c| c.id == id) else {
            return;
        };
        let mut chunk = [0u8; 4096];
        let n = match self.clients[idx].stream.read(&mut chunk) {
            Ok(0) => {
                self.client_eof(idx);
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                return;
            }
            Err(_) => {
                self.clients[idx].dead = true;
                return;
            }
        };
        let data = &chunk[..n];
        match self.clients[idx].role {
            Role::Request => {
                let c = &mut self.clients[idx];
                c.inbuf.extend_from_slice(data);
                if let Some(nl) = c.inbuf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = c.inbuf.drain(..=nl).collect();
                    let rest = std::mem::take(&mut c.inbuf);
                    match serde_json::from_slice::<Request>(&line) {
                        Ok(req) => {
                            self.request(idx, req);
                            self.trim_due = true;
                        }
                        Err(e) => {
                            let c = &mut self.clients[idx];
                            c.reply(&Reply {
                                error: Some(format!("bad request: {e}")),
                                ..Default::default()
                            });
                            c.close_when_flushed = true;
                        }
                    }
                    if !rest.is_empty() {
                        self.stdin_data(idx, &rest);
                    }
                } else if c.inbuf.len() > protocol::MAX_REQUEST {
                    c.dead = true;
                }
            }
            _ => self.stdin_data(idx, data),
        }
    }

    pub(super) fn stdin_data(&mut self, idx: usize, data: &[u8]) {
        match self.clients[idx].role {
            Role::Attach { stdin: true, .. } => {
                self.stdin.queue.extend_from_slice(data);
                if self.tty.is_some() {
                    self.flush_tty_input();
                } else {
                    self.stdin.flush();
                }
            }
            Role::Exec(pid) => {
                if let Some(e) = self.execs.iter_mut().find(|e| e.pid == pid) {
                    e.stdin.queue.extend_from_slice(data);
                    if e.tty.is_some() {
                        flush_tty(&mut e.stdin, e.tty.as_ref());
                    } else {
                        e.stdin.flush();
                    }
                }
            }
            _ => {}
        }
    }

    /// The client shut down its write side: stdin EOF for what it feeds (a terminal has
    /// no EOF to pass on; it is left open).
    pub(super) fn client_eof(&mut self, idx: usize) {
        let c = &mut self.clients[idx];
        c.read_closed = true;
        match c.role {
            Role::Request => c.dead = true,
            Role::Attach { stdin: true, .. } if self.tty.is_none() => {
                self.stdin.close_when_flushed = true;
                self.stdin.flush();
            }
            Role::Exec(pid) => {
                if let Some(e) = self
                    .execs
                    .iter_mut()
                    .find(|e| e.pid == pid && e.tty.is_none())
                {
                    e.stdin.close_when_flushed = true;
                    e.stdin.flush();
                }
            }
            _ => {}
        }
    }
}
