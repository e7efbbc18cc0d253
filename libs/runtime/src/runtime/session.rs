//! Client side of the monitor socket: one request/reply round trip, and the streaming
//! [`Session`] of an attach or exec. Connects through `/proc/self/fd` when the socket
//! path is too long for `sun_path`, so it never needs to change directory.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, IoContext, Result};
use crate::state::{ExitRecord, files};
use berth_monitor::protocol::{self, Reply, Request, stream};

/// Connects to the monitor of the container whose state directory is `dir`.
pub(crate) fn connect(dir: &Path) -> std::io::Result<UnixStream> {
    let path = dir.join(files::MONITOR_SOCK);
    if path.as_os_str().len() < 100 {
        return UnixStream::connect(&path);
    }
    let d = std::fs::File::open(dir)?;
    UnixStream::connect(format!(
        "/proc/self/fd/{}/{}",
        d.as_raw_fd(),
        files::MONITOR_SOCK
    ))
}

/// Sends `req` and reads the reply; `timeout` bounds the wait for the reply.
pub(crate) fn round_trip(
    id: &str,
    dir: &Path,
    req: &Request,
    timeout: Option<Duration>,
) -> Result<(UnixStream, Reply)> {
    let mut s = connect(dir).map_err(|e| Error::Monitor {
        id: id.to_string(),
        message: format!(
            "its monitor is not reachable ({e}); the container has exited or its monitor died"
        ),
    })?;
    s.set_read_timeout(timeout)
        .ctx(|| "setting a socket timeout".into())?;
    protocol::write_request(&mut s, req).ctx(|| format!("talking to the monitor of {id}"))?;
    let reply =
        protocol::read_reply(&mut s).ctx(|| format!("reading the reply of the monitor of {id}"))?;
    if let Some(message) = reply.error {
        return Err(Error::Monitor {
            id: id.to_string(),
            message,
        });
    }
    s.set_read_timeout(None)
        .ctx(|| "clearing a socket timeout".into())?;
    Ok((s, reply))
}

/// One piece of an attach or exec stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// bytes the process wrote to stdout (or its terminal)
    Stdout(Vec<u8>),
    /// bytes it wrote to stderr
    Stderr(Vec<u8>),
    /// it exited; the last frame
    Exit(ExitRecord),
}

/// A live attach or exec stream.
#[derive(Debug)]
pub struct Session {
    stream: UnixStream,
    pid: Option<i32>,
}

impl Session {
    pub(crate) fn new(stream: UnixStream, pid: Option<i32>) -> Self {
        Session { stream, pid }
    }

    /// The exec's pid (None for an attach).
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    /// Sends bytes to the process's stdin.
    pub fn write_stdin(&mut self, data: &[u8]) -> Result<()> {
        self.stream
            .write_all(data)
            .ctx(|| "writing stdin to the monitor".into())
    }

    /// Closes the process's stdin (a half-close of the connection).
    pub fn close_stdin(&self) -> Result<()> {
        self.stream
            .shutdown(Shutdown::Write)
            .ctx(|| "closing stdin".into())
    }

    /// The next frame; `None` when the monitor closed the stream without an exit frame.
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        let Some((id, payload)) =
            protocol::read_frame(&mut self.stream).ctx(|| "reading from the monitor".into())?
        else {
            return Ok(None);
        };
        Ok(Some(match id {
            stream::STDOUT => Frame::Stdout(payload),
            stream::STDERR => Frame::Stderr(payload),
            _ => Frame::Exit(
                serde_json::from_slice(&payload)
                    .map_err(|e| Error::json("reading an exit frame", e))?,
            ),
        }))
    }

    /// Reads the stream to its end: (exit code, stdout, stderr). The exit code is `None`
    /// when the stream ended without one (the monitor died).
    pub fn collect(mut self) -> Result<(Option<i32>, Vec<u8>, Vec<u8>)> {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        while let Some(frame) = self.next_frame()? {
            match frame {
                Frame::Stdout(b) => out.extend(b),
                Frame::Stderr(b) => err.extend(b),
                Frame::Exit(e) => return Ok((Some(e.exit_code), out, err)),
            }
        }
        Ok((None, out, err))
    }

    /// A second handle on the same connection for stdin, so one thread can read frames
    /// while another writes input (an attach proxied to a remote client).
    pub fn stdin(&self) -> Result<StdinWriter> {
        let stream = self
            .stream
            .try_clone()
            .ctx(|| "cloning the monitor connection".into())?;
        Ok(StdinWriter { stream })
    }

    /// The raw connection, for proxying: frames as described in [`berth_monitor::protocol`].
    pub fn into_stream(self) -> UnixStream {
        self.stream
    }
}

impl Read for Session {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stream.read(buf)
    }
}

/// The stdin half of a [`Session`]; see [`Session::stdin`].
#[derive(Debug)]
pub struct StdinWriter {
    stream: UnixStream,
}

impl StdinWriter {
    /// Sends bytes to the process's stdin.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        self.stream
            .write_all(data)
            .ctx(|| "writing stdin to the monitor".into())
    }

    /// Closes the process's stdin (a half-close of the connection).
    pub fn close(&self) -> Result<()> {
        self.stream
            .shutdown(Shutdown::Write)
            .ctx(|| "closing stdin".into())
    }
}
