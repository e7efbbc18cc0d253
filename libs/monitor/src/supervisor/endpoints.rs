//! The monitor's endpoints: a client connection with its bounded output queue, and the
//! stdin queue of a process. They never block: writes that would block stay queued.

use crate::protocol::{self, Reply};
use nix::errno::Errno;
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::io::{ErrorKind, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use super::MAX_CLIENT_QUEUE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Request,
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    Waiter,
    Exec(Pid),
}

pub(super) struct Client {
    pub(super) id: u64,
    pub(super) stream: UnixStream,
    pub(super) role: Role,
    pub(super) inbuf: Vec<u8>,
    pub(super) out: VecDeque<u8>,
    pub(super) read_closed: bool,
    pub(super) close_when_flushed: bool,
    pub(super) dead: bool,
}

pub(super) struct Stdin {
    pub(super) fd: Option<OwnedFd>,
    pub(super) queue: Vec<u8>,
    pub(super) close_when_flushed: bool,
}

impl Stdin {
    /// A process's stdin (`None`: it reads /dev/null), nothing queued yet.
    pub(super) fn new(fd: Option<OwnedFd>) -> Self {
        Stdin {
            fd,
            queue: Vec::new(),
            close_when_flushed: false,
        }
    }
}

/// Reads what is available: Ok(None) on EOF (or EIO from a pty whose other side closed).
pub(super) fn read_some(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    match nix::unistd::read(fd.as_raw_fd(), buf) {
        Ok(0) | Err(Errno::EIO) => None,
        Ok(n) => Some(n),
        Err(Errno::EAGAIN) | Err(Errno::EINTR) => Some(0),
        Err(_) => None,
    }
}

impl Stdin {
    pub(super) fn flush(&mut self) {
        while let Some(fd) = &self.fd {
            if self.queue.is_empty() {
                break;
            }
            match nix::unistd::write(fd, &self.queue) {
                Ok(n) => {
                    self.queue.drain(..n);
                }
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => return,
                Err(_) => {
                    self.fd = None;
                    self.queue.clear();
                }
            }
        }
        if self.queue.is_empty() && self.close_when_flushed {
            self.fd = None;
        }
    }
}

impl Client {
    pub(super) fn send(&mut self, bytes: &[u8]) {
        if self.out.len() + bytes.len() > MAX_CLIENT_QUEUE {
            eprintln!(
                "berth-monitor: dropping client {}: it does not read its stream",
                self.id
            );
            self.dead = true;
            return;
        }
        self.out.extend(bytes);
    }

    pub(super) fn frame(&mut self, stream: u8, payload: &[u8]) {
        self.send(&protocol::frame_header(stream, payload.len()));
        self.send(payload);
    }

    pub(super) fn reply(&mut self, reply: &Reply) {
        let mut line = serde_json::to_vec(reply).unwrap_or_default();
        line.push(b'\n');
        self.send(&line);
    }

    pub(super) fn flush(&mut self) {
        while !self.out.is_empty() && !self.dead {
            let (a, _) = self.out.as_slices();
            match self.stream.write(a) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted =>
                {
                    return;
                }
                Err(_) => self.dead = true,
            }
        }
        if self.out.capacity() > 64 * 1024 && self.out.is_empty() {
            self.out.shrink_to(0);
        }
        if self.out.is_empty() && self.close_when_flushed {
            self.dead = true;
        }
    }
}

pub(super) fn flush_tty(stdin: &mut Stdin, master: Option<&OwnedFd>) {
    let Some(fd) = master else { return };
    while !stdin.queue.is_empty() {
        match nix::unistd::write(fd, &stdin.queue) {
            Ok(n) => {
                stdin.queue.drain(..n);
            }
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => return,
            Err(_) => {
                stdin.queue.clear();
                return;
            }
        }
    }
}
