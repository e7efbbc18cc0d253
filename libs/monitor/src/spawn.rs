//! How the monitor runs `berth-spawn`, the helper that creates, starts and execs through
//! libcontainer (see the crate docs for why it is a separate executable), and the little
//! protocol both sides speak. Shared by the monitor and by berth-spawn itself.
//!
//! `berth-spawn create|exec STATE_DIR [--console PATH]` gets the process's stdin, stdout
//! and stderr on descriptors 3, 4 and 5 (none with a console: the process then sends its
//! pty master to the console socket) and a control socket on descriptor 6. Its own stdout
//! and stderr are the monitor's log. On the control socket:
//!
//! - `exec` first reads one line, the [`ExecConfig`](crate::protocol::ExecConfig) as JSON
//!   (over the socket rather than argv, where other users could read its environment);
//! - both answer one [`SpawnReply`] line: the new process's pid, or the error;
//! - `create` then waits for a `start` line, answers once more and exits. It also exits,
//!   without starting, when the control socket closes or the container's init dies first.
//!
//! When berth-spawn exits, the processes it made are re-parented to the monitor (a child
//! subreaper), which reaps them.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::fcntl::{FcntlArg, fcntl};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

/// The process's stdin in berth-spawn.
pub const STDIN_FD: RawFd = 3;
/// The process's stdout in berth-spawn.
pub const STDOUT_FD: RawFd = 4;
/// The process's stderr in berth-spawn.
pub const STDERR_FD: RawFd = 5;
/// The control socket in berth-spawn.
pub const CONTROL_FD: RawFd = 6;
/// The line that tells a waiting `create` to start the container.
pub const START: &[u8] = b"start\n";
/// The most a reply may take: libcontainer's create (namespaces, mounts, seccomp) is the
/// slowest thing asked, a few tens of milliseconds on an idle host.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// berth-spawn's answer line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnReply {
    /// the process made (create: the container's init; exec: the exec'd process)
    pub pid: Option<i32>,
    /// set when the request failed
    pub error: Option<String>,
}

/// What berth-spawn is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// create the container (and wait to start it)
    Create,
    /// run a process in the running container
    Exec,
}

impl Action {
    /// The subcommand name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Exec => "exec",
        }
    }
}

/// The process's stdio as handed to berth-spawn.
#[derive(Debug)]
pub enum ChildStdio {
    /// stdin, stdout and stderr (the child's ends)
    Pipes([OwnedFd; 3]),
    /// a console socket the process sends its pty master to
    Console(PathBuf),
}

/// The runtime's sealed in-memory copy of berth-spawn, when it passed one.
static SEALED_COPY: std::sync::OnceLock<OwnedFd> = std::sync::OnceLock::new();

/// Runs berth-spawn from `copy`, a sealed memfd of it, rather than from its path: a
/// process in the container can reach the executable berth-spawn runs from
/// (CVE-2019-5736), and a sealed copy cannot be written. Kept close-on-exec above the
/// descriptor numbers berth-spawn is handed.
pub fn use_sealed_copy(copy: OwnedFd) {
    let Ok(high) = fcntl(copy.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(10)) else {
        return;
    };
    // SAFETY: F_DUPFD_CLOEXEC just returned this new descriptor; we own it alone.
    let _ = SEALED_COPY.set(unsafe { OwnedFd::from_raw_fd(high) });
}

/// A running berth-spawn.
#[derive(Debug)]
pub struct Spawner {
    /// its pid (a child of the monitor)
    pub pid: Pid,
    control: UnixStream,
}

impl Spawner {
    /// Starts `binary` to do `action` for the container in `state_dir`.
    pub fn run(binary: &Path, action: Action, state_dir: &Path, stdio: ChildStdio) -> Result<Self> {
        let (ours, theirs) = UnixStream::pair().ctx(|| "creating a control socket".into())?;
        // Without a copy (a monitor started by an older runtime), berth-spawn seals
        // itself: it copies and re-executes itself before anything else.
        let mut cmd = match SEALED_COPY.get() {
            Some(copy) => {
                let mut cmd = Command::new(format!("/proc/self/fd/{}", copy.as_raw_fd()));
                cmd.arg0(binary);
                cmd
            }
            None => Command::new(binary),
        };
        cmd.arg(action.as_str()).arg(state_dir);
        let mut sources: Vec<(OwnedFd, RawFd)> = Vec::with_capacity(4);
        match stdio {
            ChildStdio::Pipes([stdin, stdout, stderr]) => {
                sources.push((stdin, STDIN_FD));
                sources.push((stdout, STDOUT_FD));
                sources.push((stderr, STDERR_FD));
            }
            ChildStdio::Console(path) => {
                cmd.arg("--console").arg(path);
            }
        }
        sources.push((OwnedFd::from(theirs), CONTROL_FD));
        // Copies above every target number (and close-on-exec), so no dup2 below can
        // overwrite a source that is still to be moved.
        let mut moves = Vec::with_capacity(sources.len());
        for (fd, target) in &sources {
            let high = fcntl(fd.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(10))
                .map_err(|e| Error::sys("duplicating a descriptor for berth-spawn", e))?;
            // SAFETY: F_DUPFD_CLOEXEC just returned this new descriptor; we own it alone.
            moves.push((unsafe { OwnedFd::from_raw_fd(high) }, *target));
        }
        let plan: Vec<(RawFd, RawFd)> = moves.iter().map(|(f, t)| (f.as_raw_fd(), *t)).collect();
        cmd.stdin(Stdio::null());
        // SAFETY: between fork and exec the closure only calls dup2, which is
        // async-signal-safe, on descriptors that stay open in the parent until spawn
        // returns.
        unsafe {
            cmd.pre_exec(move || {
                for (from, to) in &plan {
                    if libc::dup2(*from, *to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .ctx(|| format!("starting {}", binary.display()))?;
        drop(moves);
        drop(sources);
        ours.set_read_timeout(Some(REPLY_TIMEOUT))
            .ctx(|| "setting a timeout on the control socket".into())?;
        Ok(Spawner {
            pid: Pid::from_raw(child.id() as i32),
            control: ours,
        })
    }

    /// Sends one line (which must end in `\n`).
    pub fn send(&mut self, line: &[u8]) -> Result<()> {
        self.control
            .write_all(line)
            .ctx(|| "writing to berth-spawn".into())
    }

    /// Reads berth-spawn's next answer line; an error when it answers with one, dies
    /// first, or takes longer than a minute.
    pub fn reply(&mut self, what: &str) -> Result<i32> {
        let line =
            read_line(&mut self.control).ctx(|| format!("{what}: reading berth-spawn's answer"))?;
        if line.is_empty() {
            return Err(Error::Spawn {
                context: what.into(),
                message: "berth-spawn exited without answering (see monitor.log)".into(),
            });
        }
        let reply: SpawnReply =
            serde_json::from_slice(&line).map_err(|e| Error::json("berth-spawn's answer", e))?;
        match reply {
            SpawnReply {
                error: Some(message),
                ..
            } => Err(Error::Spawn {
                context: what.into(),
                message,
            }),
            SpawnReply { pid, .. } => Ok(pid.unwrap_or(0)),
        }
    }
}

/// Reads up to and including `\n` (or to EOF), byte by byte: the processes berth-spawn
/// makes hold the other end until they exec, so reading to EOF would wait for them, and a
/// buffered reader could swallow the start of a later answer.
pub fn read_line(stream: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return Ok(line),
            Ok(_) => {
                line.push(byte[0]);
                if byte[0] == b'\n' || line.len() > 1 << 20 {
                    return Ok(line);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes one [`SpawnReply`] line (berth-spawn's side).
pub fn answer(stream: &mut impl Write, reply: &SpawnReply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).unwrap_or_default();
    line.push(b'\n');
    stream.write_all(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_travel_one_line_at_a_time() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        answer(
            &mut a,
            &SpawnReply {
                pid: Some(42),
                error: None,
            },
        )
        .unwrap();
        answer(
            &mut a,
            &SpawnReply {
                pid: None,
                error: Some("no".into()),
            },
        )
        .unwrap();
        drop(a);
        let first: SpawnReply = serde_json::from_slice(&read_line(&mut b).unwrap()).unwrap();
        assert_eq!(first.pid, Some(42));
        let second: SpawnReply = serde_json::from_slice(&read_line(&mut b).unwrap()).unwrap();
        assert_eq!(second.error.as_deref(), Some("no"));
        assert!(
            read_line(&mut b).unwrap().is_empty(),
            "EOF reads as an empty line"
        );
    }
}
