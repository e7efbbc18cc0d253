//! The monitor's control protocol on `<state>/monitor.sock`, shared by the monitor and its
//! clients. A client sends one JSON [`Request`] line and reads one JSON [`Reply`] line.
//! For `attach` and `exec` the connection then carries the streams: the client writes raw
//! stdin bytes (shutting down its write side means stdin EOF) and reads frames shaped like
//! Docker's multiplexed stream: `[stream, 0, 0, 0, len (u32 big-endian)]` then `len`
//! bytes, stream 1 = stdout, 2 = stderr, 3 = the exit record (JSON) as the last frame.
//! This module only encodes and decodes; it never touches a container.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::state::ExitRecord;

/// A process to run inside a running container (`docker exec`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecConfig {
    /// Command and arguments.
    pub args: Vec<String>,
    /// Extra `KEY=value` entries; they override the container's.
    pub env: Vec<String>,
    /// `--user`; empty means the container's user.
    pub user: String,
    /// `--workdir`; empty means the container's working directory.
    pub working_dir: String,
    /// Allocate a pseudo terminal.
    pub tty: bool,
    /// Pass stdin through (`-i`); otherwise stdin is /dev/null.
    pub attach_stdin: bool,
    /// `exec --privileged`: every capability of berth's bounding set, as Docker grants;
    /// the container's seccomp filter still applies.
    pub privileged: bool,
}

/// Frame stream ids.
pub mod stream {
    /// container stdout
    pub const STDOUT: u8 = 1;
    /// container stderr
    pub const STDERR: u8 = 2;
    /// the exit record, JSON; always the last frame
    pub const EXIT: u8 = 3;
}

/// Longest request line the monitor accepts.
pub const MAX_REQUEST: usize = 64 * 1024;

/// What a client asks the monitor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Start the created container.
    Start,
    /// Send a signal to the container's init.
    Signal {
        /// signal number
        signal: i32,
    },
    /// Resize the terminal of the container (or of the exec with this pid).
    Resize {
        /// columns
        width: u16,
        /// rows
        height: u16,
        /// an exec's pid; `None` for the container
        exec_pid: Option<i32>,
    },
    /// Stream the container's output (and take its input).
    Attach {
        /// forward stdin
        stdin: bool,
        /// send stdout frames
        stdout: bool,
        /// send stderr frames
        stderr: bool,
    },
    /// Reply (with the exit record) once the container has exited.
    Wait,
    /// Run a process in the container and stream it.
    Exec {
        /// what to run
        config: ExecConfig,
    },
}

/// The monitor's answer line.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reply {
    /// set when the request failed
    pub error: Option<String>,
    /// the exec's pid (exec)
    pub pid: Option<i32>,
    /// the exit record (wait)
    pub exit: Option<ExitRecord>,
}

/// Encodes one frame header.
pub fn frame_header(stream: u8, len: usize) -> [u8; 8] {
    let l = (len as u32).to_be_bytes();
    [stream, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

/// Reads one frame: `Ok(None)` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 8];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((header[0], payload)))
}

/// Writes a request line.
pub fn write_request(w: &mut impl Write, req: &Request) -> io::Result<()> {
    let mut line = serde_json::to_vec(req).map_err(io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line)
}

/// Reads a reply line byte by byte (so no stream data after it is consumed).
pub fn read_reply(r: &mut impl Read) -> io::Result<Reply> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match r.read(&mut byte) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the monitor closed the connection without a reply",
                ));
            }
            Ok(_) => {}
            // A signal handled by the caller's process (SIGCHLD, SIGWINCH) may cut the
            // read short; the reply is still on its way.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
        if line.len() > MAX_REQUEST {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "reply line too long",
            ));
        }
    }
    serde_json::from_slice(&line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_survives_interrupted_reads() {
        /// Hands out one byte per read, with a signal's EINTR before each.
        struct Interrupting<'a>(&'a [u8], bool);
        impl Read for Interrupting<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 = !self.1;
                if self.1 {
                    return Err(io::ErrorKind::Interrupted.into());
                }
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let reply = read_reply(&mut Interrupting(b"{\"pid\":7}\n", false)).unwrap();
        assert_eq!(reply.pid, Some(7));
    }

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        buf.extend_from_slice(&frame_header(stream::STDOUT, 3));
        buf.extend_from_slice(b"hi\n");
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r).unwrap(), Some((1, b"hi\n".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    #[test]
    fn requests_are_tagged_json() {
        let mut buf = Vec::new();
        write_request(&mut buf, &Request::Signal { signal: 15 }).unwrap();
        assert_eq!(buf, b"{\"op\":\"signal\",\"signal\":15}\n");
        let reply =
            read_reply(&mut &b"{\"error\":null,\"pid\":7,\"exit\":null}\nrest"[..]).unwrap();
        assert_eq!(reply.pid, Some(7));
    }
}
