//! The seam between the runner's container logic and what touches the host: processes
//! (berth-runtime and its monitors) and container roots (overlay mounts). As in
//! containerd, where the shim mounts the root it runs, both sit behind one trait, so the
//! runner's decisions (restart policies, re-adoption, the order of events) can be tested
//! against a recording fake without root; see `fake_runtime` in the tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_runtime::{
    CgroupStats, ContainerConfig, ContainerHandle, ContainerState, ExecConfig, ExitRecord, Result,
    Session,
};
use berth_snapshots::ContainerFs;

/// What the runner asks of the host for its containers.
#[async_trait::async_trait]
pub trait ContainerRuntime: Send + Sync + std::fmt::Debug {
    fn create(&self, id: &str, config: &ContainerConfig, rootfs: &Path) -> Result<ContainerHandle>;
    fn start(&self, id: &str) -> Result<()>;
    fn kill(&self, id: &str, signal: i32) -> Result<()>;
    fn state(&self, id: &str) -> Result<ContainerState>;
    /// The configuration the container was created with.
    fn config(&self, id: &str) -> Result<ContainerConfig>;
    /// Every container the runtime has state for.
    fn list(&self) -> Result<Vec<String>>;
    fn delete(&self, id: &str, force: bool) -> Result<()>;
    /// Removes what a create that never finished left (processes, cgroups, state).
    fn destroy_unfinished(&self, id: &str) -> Result<()>;
    /// Waits, on the calling thread, for the exit (at most `timeout`).
    fn wait(&self, id: &str, timeout: Option<Duration>) -> Result<ExitRecord>;
    /// Waits for the exit without holding a thread: a runner watches every container it
    /// runs.
    async fn exited(&self, id: &str) -> Result<ExitRecord>;
    fn pause(&self, id: &str) -> Result<()>;
    fn resume(&self, id: &str) -> Result<()>;
    fn stats(&self, id: &str) -> Result<CgroupStats>;
    fn processes(&self, id: &str) -> Result<Vec<i32>>;
    fn attach(&self, id: &str, stdin: bool, stdout: bool, stderr: bool) -> Result<Session>;
    fn exec(&self, id: &str, config: &ExecConfig) -> Result<Session>;
    fn resize(&self, id: &str, width: u16, height: u16, exec_pid: Option<i32>) -> Result<()>;
    /// Mounts the container's root over its image's snapshots (a no-op when mounted).
    fn mount_root(&self, fs: &ContainerFs, lowers: &[PathBuf]) -> std::io::Result<()>;
    /// Unmounts the container's root and removes its directory.
    fn remove_root(&self, fs: &ContainerFs) -> std::io::Result<()>;
}

/// The host's runtime: berth-runtime's monitors, and overlay mounts.
#[derive(Debug, Clone)]
pub struct HostRuntime(pub berth_runtime::Runtime);

#[async_trait::async_trait]
impl ContainerRuntime for HostRuntime {
    fn create(&self, id: &str, config: &ContainerConfig, rootfs: &Path) -> Result<ContainerHandle> {
        self.0.create(id, config, rootfs)
    }
    fn start(&self, id: &str) -> Result<()> {
        self.0.start(id)
    }
    fn kill(&self, id: &str, signal: i32) -> Result<()> {
        self.0.kill(id, signal)
    }
    fn state(&self, id: &str) -> Result<ContainerState> {
        self.0.state(id)
    }
    fn config(&self, id: &str) -> Result<ContainerConfig> {
        self.0.config(id)
    }
    fn list(&self) -> Result<Vec<String>> {
        self.0.list()
    }
    fn delete(&self, id: &str, force: bool) -> Result<()> {
        self.0.delete(id, force)
    }
    fn destroy_unfinished(&self, id: &str) -> Result<()> {
        self.0.destroy_unfinished(id)
    }
    fn wait(&self, id: &str, timeout: Option<Duration>) -> Result<ExitRecord> {
        self.0.wait(id, timeout)
    }

    /// The wait is a socket on tokio's reactor, not a blocked thread: a thread per
    /// container would cost memory each and, past the blocking pool's 512 threads,
    /// starve every other runtime call.
    async fn exited(&self, id: &str) -> Result<ExitRecord> {
        let (runtime, wid) = (self.0.clone(), id.to_owned());
        let socket = blocking(move || runtime.start_wait(&wid)).await?;
        // Without an answerable socket the runtime's own wait reads the exit from the
        // container's files (the monitor has finished, or died).
        let answered = match socket {
            Some(socket) => readable(socket).await.ok(),
            None => None,
        };
        let (runtime, wid) = (self.0.clone(), id.to_owned());
        blocking(move || match answered {
            Some(socket) => runtime.finish_wait(&wid, socket),
            None => runtime.wait(&wid, None),
        })
        .await
    }

    fn pause(&self, id: &str) -> Result<()> {
        self.0.pause(id)
    }
    fn resume(&self, id: &str) -> Result<()> {
        self.0.resume(id)
    }
    fn stats(&self, id: &str) -> Result<CgroupStats> {
        self.0.stats(id)
    }
    fn processes(&self, id: &str) -> Result<Vec<i32>> {
        self.0.processes(id)
    }
    fn attach(&self, id: &str, stdin: bool, stdout: bool, stderr: bool) -> Result<Session> {
        self.0.attach(id, stdin, stdout, stderr)
    }
    fn exec(&self, id: &str, config: &ExecConfig) -> Result<Session> {
        self.0.exec(id, config)
    }
    fn resize(&self, id: &str, width: u16, height: u16, exec_pid: Option<i32>) -> Result<()> {
        self.0.resize(id, width, height, exec_pid)
    }
    fn mount_root(&self, fs: &ContainerFs, lowers: &[PathBuf]) -> std::io::Result<()> {
        fs.mount(lowers)
    }
    fn remove_root(&self, fs: &ContainerFs) -> std::io::Result<()> {
        fs.remove()
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| berth_runtime::Error::io("a runtime task", std::io::Error::other(e)))?
}

/// Returns `socket` once it has something to read (the monitor answered, or hung up),
/// waiting on tokio's reactor. A peek makes sure, since readiness may be spurious and
/// the read that follows blocks.
async fn readable(
    socket: std::os::unix::net::UnixStream,
) -> std::io::Result<std::os::unix::net::UnixStream> {
    use nix::sys::socket::{MsgFlags, recv};
    use std::os::fd::AsRawFd as _;
    socket.set_nonblocking(true)?;
    let socket = tokio::net::UnixStream::from_std(socket)?;
    loop {
        socket.readable().await?;
        let peeked = socket.try_io(tokio::io::Interest::READABLE, || {
            let mut byte = [0u8; 1];
            recv(
                socket.as_raw_fd(),
                &mut byte,
                MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
            )
            .map_err(std::io::Error::from)
        });
        match peeked {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    let socket = socket.into_std()?;
    socket.set_nonblocking(false)?;
    Ok(socket)
}
