//! A child process that is killed when the test that owns it ends.

use std::io::{BufRead, BufReader, Read};
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Owns a child process; on drop the child is killed and reaped.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
    name: String,
}

impl ChildGuard {
    pub fn new(name: impl Into<String>, child: Child) -> Self {
        ChildGuard {
            child: Some(child),
            name: name.into(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// Sends `signal` and waits up to `timeout` for the child to exit; returns its status,
    /// or `None` if it was still running (it is then killed).
    pub fn signal_and_wait(
        &mut self,
        signal: Signal,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, signal);
        let (tx, rx) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let status = child.wait();
            let _ = tx.send(());
            (child, status)
        });
        match rx.recv_timeout(timeout) {
            Ok(()) => waiter.join().ok().and_then(|(_, s)| s.ok()),
            Err(_) => {
                let _ = kill(pid, Signal::SIGKILL);
                let _ = waiter.join();
                eprintln!("{} did not exit within {timeout:?} of {signal}", self.name);
                None
            }
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads `stream` line by line until a line contains `needle`; returns that line. The rest
/// of the stream is drained in the background (so the child never blocks on a full pipe)
/// and echoed to stderr prefixed with `name`, which `cargo test` shows for failing tests.
///
/// This is how fixtures know a server is ready: from the server itself, not from a sleep.
pub fn wait_for_line(
    name: &str,
    stream: impl Read + Send + 'static,
    needle: &str,
    timeout: Duration,
) -> Result<String, String> {
    let (tx, rx) = mpsc::channel();
    let needle = needle.to_owned();
    let prefix = name.to_owned();
    std::thread::spawn(move || {
        let mut found = false;
        let mut seen = Vec::new();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            eprintln!("[{prefix}] {line}");
            if !found && line.contains(&needle) {
                found = true;
                let _ = tx.send(Ok(line));
            } else if !found {
                seen.push(line);
            }
        }
        if !found {
            let _ = tx.send(Err(format!(
                "stream ended first; it said:\n{}",
                seen.join("\n")
            )));
        }
    });
    match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{name} printed no line with the readiness marker within {timeout:?}"
        )),
    }
}
