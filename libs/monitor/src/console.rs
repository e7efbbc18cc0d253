//! Pseudo-terminal plumbing for the monitor: the console socket a container sends its pty
//! master through (SCM_RIGHTS), and window resizing. Never opens a terminal itself.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};

use crate::error::{Error, IoContext, Result};

/// Where to put a console socket: `preferred` when it fits in `sun_path` (108 bytes),
/// else a short name in the temporary directory derived from it. libcontainer connects
/// by path, so the path must fit; deep data roots would not.
pub fn socket_path(preferred: &Path) -> std::path::PathBuf {
    if preferred.as_os_str().len() < 100 {
        return preferred.to_owned();
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    preferred.hash(&mut h);
    std::process::id().hash(&mut h);
    std::env::temp_dir().join(format!("berth-console-{:016x}.sock", h.finish()))
}

/// Listens on `path` (removed first if stale) for libcontainer's console connection.
pub fn listen(path: &Path) -> Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    UnixListener::bind(path).ctx(|| format!("binding console socket {}", path.display()))
}

/// Accepts libcontainer's connection and receives the pty master it sends. The process
/// on the other side has already connected and sent by the time the builder returns.
pub fn receive_master(listener: &UnixListener) -> Result<OwnedFd> {
    let (conn, _) = listener
        .accept()
        .ctx(|| "accepting the console connection".into())?;
    let mut name = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::sys("receiving the pty master", e))?;
    for cmsg in msg
        .cmsgs()
        .map_err(|e| Error::sys("reading the pty master message", e))?
    {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(fd) = fds.first()
        {
            // SAFETY: the kernel just installed this descriptor in our table for us
            // (SCM_RIGHTS); nothing else owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    Err(Error::Spawn {
        context: "receiving the terminal".into(),
        message: "the container sent no pty master on the console socket".into(),
    })
}

/// Sets the window size of the terminal whose master is `master`.
pub fn resize(master: &OwnedFd, width: u16, height: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `winsize` from the pointer, which lives for the call;
    // the descriptor is a valid open pty master.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if rc < 0 {
        return Err(Error::sys("resizing the terminal", nix::Error::last()));
    }
    Ok(())
}
