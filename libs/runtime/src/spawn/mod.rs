//! `berth-spawn`: the short-lived helper berth-monitor runs whenever it needs
//! libcontainer (the protocol is in [`berth_monitor::spawn`]). It is a separate
//! executable so that the monitor, which lives as long as its container, never maps
//! libcontainer: see berth-monitor's crate docs.
//!
//! - `create`: creates the container from the bundle in the state directory, answers the
//!   init's pid, then waits: a `start` line starts the container; a closed control socket,
//!   or the init dying first, ends it without starting. Its exit hands the init over to
//!   the monitor (a child subreaper).
//! - `exec`: reads the exec configuration, starts the process in the container's
//!   namespaces and cgroup (see [`exec`]), answers its pid and exits.
//!
//! libcontainer clones this process, so it stays single-threaded. It runs only from a
//! sealed copy of its executable, never from the host's file (see [`sealed_exe`]).

mod exec;
pub mod sealed_exe;
pub mod seccomp_cache;

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use berth_monitor::spawn::{
    self as protocol, CONTROL_FD, STDERR_FD, STDIN_FD, STDOUT_FD, SpawnReply,
};
use libcontainer::container::Container;
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::error::{Error, Result};
use crate::state::{MonitorConfig, files};

/// What one invocation was asked.
struct Args {
    action: String,
    state_dir: PathBuf,
    console: Option<PathBuf>,
}

fn parse_args() -> Option<Args> {
    let mut args = std::env::args_os().skip(1);
    let action = args.next()?.into_string().ok()?;
    let state_dir = PathBuf::from(args.next()?);
    let console = match (args.next(), args.next()) {
        (None, _) => None,
        (Some(flag), Some(path)) if flag == "--console" => Some(PathBuf::from(path)),
        _ => return None,
    };
    Some(Args {
        action,
        state_dir,
        console,
    })
}

/// Entry point of the `berth-spawn` executable.
pub fn main() -> ! {
    // First of all, while descriptors 3-6 are still inheritable: a re-exec keeps them.
    let sealed = sealed_exe::ensure();
    default_signal_dispositions();
    let Some(args) = parse_args() else {
        eprintln!(
            "usage: berth-spawn create|exec STATE_DIR [--console PATH]\n(run by berth-monitor, not by hand)"
        );
        std::process::exit(2);
    };
    // SAFETY: berth-monitor hands us this descriptor number for our sole use; nothing
    // else in this fresh process owns it.
    let control = unsafe { OwnedFd::from_raw_fd(CONTROL_FD) };
    set_cloexec(&control);
    let mut control = UnixStream::from(control);
    let result = match args.action.as_str() {
        // Never run unprotected: the container could otherwise rewrite this binary.
        _ if sealed.is_err() => sealed,
        "create" => create(&args, &mut control),
        "exec" => exec::run(&args.state_dir, args.console.as_deref(), &mut control),
        other => Err(Error::InvalidConfig(format!(
            "berth-spawn: unknown action {other:?}"
        ))),
    };
    if let Err(e) = result {
        let _ = protocol::answer(
            &mut control,
            &SpawnReply {
                pid: None,
                error: Some(e.to_string()),
            },
        );
        eprintln!("berth-spawn: {e}");
        std::process::exit(1);
    }
    std::process::exit(0)
}

/// Gives the processes libcontainer makes the default signal dispositions, as runc's get:
/// ignored signals survive exec, and this process may have inherited some (Rust ignores
/// SIGPIPE at start-up; an engine started under `nohup` or from a script's background job
/// ignores SIGHUP, SIGINT and SIGQUIT), which would leave Ctrl-C and friends dead in
/// every container.
fn default_signal_dispositions() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: restoring the default disposition installs no handler code.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
}

/// Keeps `fd` out of the processes libcontainer execs.
fn set_cloexec(fd: &impl AsRawFd) {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let _ = fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
}

/// The process's stdio as berth-monitor passed it (descriptors 3, 4 and 5).
fn inherited_stdio() -> [OwnedFd; 3] {
    [STDIN_FD, STDOUT_FD, STDERR_FD].map(|fd| {
        // SAFETY: berth-monitor dup2'd the process's stdio to these numbers for us
        // alone; each is wrapped exactly once.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        set_cloexec(&fd);
        fd
    })
}

/// The runtime root: a container's state directory is `<root>/<id>`.
fn runtime_root(state_dir: &Path) -> &Path {
    state_dir.parent().unwrap_or(state_dir)
}

fn monitor_config(state_dir: &Path) -> Result<MonitorConfig> {
    crate::state::read_json(&state_dir.join(files::MONITOR_SPEC))?.ok_or_else(|| {
        Error::InvalidConfig(format!(
            "no {} in {}",
            files::MONITOR_SPEC,
            state_dir.display()
        ))
    })
}

fn create(args: &Args, control: &mut UnixStream) -> Result<()> {
    let config = monitor_config(&args.state_dir)?;
    let lc_root = args.state_dir.join(files::LIBCONTAINER_ROOT);
    let mut builder = ContainerBuilder::new(config.id.clone(), SyscallType::default())
        .validate_id()
        .map_err(|e| Error::InvalidConfig(format!("container id {:?}: {e}", config.id)))?
        .with_root_path(&lc_root)
        .map_err(|e| Error::container("opening the state root", e))?;
    builder = match &args.console {
        Some(path) => builder.with_console_socket(Some(path)),
        None => {
            let [stdin, stdout, stderr] = inherited_stdio();
            builder
                .with_stdin(stdin)
                .with_stdout(stdout)
                .with_stderr(stderr)
        }
    };
    let spec: Option<oci_spec::runtime::Spec> =
        crate::state::read_json(&args.state_dir.join(files::SPEC))?;
    let profile = spec
        .as_ref()
        .and_then(|s| s.linux().as_ref())
        .and_then(|l| l.seccomp().as_ref());
    let held = seccomp_cache::prepare(runtime_root(&args.state_dir), profile, true);
    let mut container = builder
        .as_init(&args.state_dir)
        .with_systemd(false)
        .with_detach(true)
        .build()
        .map_err(|e| Error::container("creating the container", e))?;
    // The init has loaded its filter before libcontainer's build returns.
    seccomp_cache::finish(held);
    let pid = container.pid().map(|p| p.as_raw()).unwrap_or(0);
    protocol::answer(
        control,
        &SpawnReply {
            pid: Some(pid),
            error: None,
        },
    )
    .map_err(|e| Error::io("answering berth-monitor", e))?;
    if wait_for_start(control, pid)? {
        start(&mut container)?;
        protocol::answer(control, &SpawnReply::default())
            .map_err(|e| Error::io("answering berth-monitor", e))?;
    }
    Ok(())
}

/// Waits for the monitor's `start` line: true when it came; false when the monitor closed
/// the socket or the container's init died before (then there is nothing to start, and
/// exiting hands the dead init to the monitor to reap).
fn wait_for_start(control: &mut UnixStream, init: i32) -> Result<bool> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, init, 0) } as i32;
    let pidfd = (raw >= 0).then(|| {
        // SAFETY: pidfd_open just returned this descriptor; we own it alone.
        unsafe { OwnedFd::from_raw_fd(raw) }
    });
    loop {
        let mut fds = vec![PollFd::new(control.as_fd(), PollFlags::POLLIN)];
        if let Some(p) = &pidfd {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("waiting for start", e)),
        }
        let died = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty());
        if died {
            return Ok(false);
        }
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            let line = protocol::read_line(control).map_err(|e| Error::io("reading start", e))?;
            return Ok(line == protocol::START);
        }
    }
}

fn start(container: &mut Container) -> Result<()> {
    container
        .start()
        .map_err(|e| Error::container("starting the container", e))
}
