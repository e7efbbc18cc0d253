//! `berth-monitor`: the small per-container supervisor (conmon's job, without tokio).
//! Started by [`crate::Runtime::create`] as `berth-monitor --ready-fd 3 <state-dir>`, it
//! daemonises (double fork + setsid, so the container outlives a runner restart or
//! SIGKILL), becomes a child subreaper, creates the container through libcontainer (which
//! clones the caller: this process is single-threaded on purpose), reports "created" (or
//! the error) on the ready pipe, then runs a poll(2) loop that owns the container's stdio
//! (pipes, or a pty with `tty`), writes the json-file log, serves `monitor.sock`
//! (start, signal, resize, attach, wait, exec), reaps, and writes `exit.json` (exit code
//! and OOM kill) atomically before it exits.
//!
//! Must never: start threads (libcontainer forks this process), block on a client (a slow
//! attach client is dropped, never waited for), or hold more than small fixed buffers per
//! connection (the target is < 1 MiB RSS per container).

mod console;
mod exec;
mod json_log;
pub mod protocol;
mod residency;
mod supervisor;

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::{ForkResult, fork, setsid};

pub use json_log::{JsonFileLog, Stream, encode_entry};

use crate::error::{Error, IoContext, Result};
use crate::state::{self, ContainerRecord, MonitorSpec, RecordedStatus, files};
use protocol::Reply;

/// The container's stdio as the monitor holds it.
#[derive(Debug)]
enum ContainerIo {
    /// stdin write end (None: /dev/null), stdout and stderr read ends
    Pipes {
        stdin: Option<OwnedFd>,
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
    },
    /// the pty master (stdout and stdin)
    Tty(Option<OwnedFd>),
}

/// Entry point of the `berth-monitor` executable.
pub fn main() -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (ready_fd, state_dir) = match args.as_slice() {
        [flag, fd, dir] if flag == "--ready-fd" => (fd.parse::<i32>().ok(), PathBuf::from(dir)),
        [dir] => (None, PathBuf::from(dir)),
        _ => {
            eprintln!(
                "usage: berth-monitor [--ready-fd N] STATE_DIR\n(started by berth's runtime, not by hand)"
            );
            std::process::exit(2);
        }
    };
    // SAFETY: the runtime passes us this descriptor (dup2'd to this number) for our sole
    // use; nothing else in this fresh process owns it.
    let ready = ready_fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    std::process::exit(match run(&state_dir, ready) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth-monitor: {e}");
            1
        }
    })
}

fn report(ready: &mut Option<OwnedFd>, reply: &Reply) {
    if let Some(fd) = ready.take() {
        let mut f = std::fs::File::from(fd);
        let mut line = serde_json::to_vec(reply).unwrap_or_default();
        line.push(b'\n');
        let _ = f.write_all(&line);
    }
}

/// Runs `f` with SIGCHLD unblocked, so the processes libcontainer clones inside it do not
/// inherit a blocked SIGCHLD (the monitor itself takes it through a signalfd).
pub(crate) fn with_sigchld_unblocked<T>(f: impl FnOnce() -> T) -> T {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    let out = f();
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    out
}

fn daemonise(state_dir: &Path) -> Result<()> {
    // SAFETY: the monitor is single-threaded here (nothing has spawned a thread yet), so
    // the child may run arbitrary code after fork.
    match unsafe { fork() }.map_err(|e| Error::sys("forking the monitor", e))? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    setsid().map_err(|e| Error::sys("setsid", e))?;
    std::env::set_current_dir(state_dir).ctx(|| format!("entering {}", state_dir.display()))?;
    let null = std::fs::File::open("/dev/null").ctx(|| "opening /dev/null".into())?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state_dir.join(files::MONITOR_LOG))
        .ctx(|| "opening monitor.log".into())?;
    use std::os::fd::AsRawFd;
    for (src, dst) in [
        (null.as_raw_fd(), 0),
        (log.as_raw_fd(), 1),
        (log.as_raw_fd(), 2),
    ] {
        nix::unistd::dup2(src, dst).map_err(|e| Error::sys("redirecting stdio", e))?;
    }
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| Error::sys("becoming a child subreaper", e))?;
    // Writes to a client that went away must fail with EPIPE, not kill the monitor.
    // SAFETY: setting a signal to SIG_IGN installs no handler code.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigIgn) }
        .map_err(|e| Error::sys("ignoring SIGPIPE", e))?;
    Ok(())
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::sys("creating a pipe", e))
}

fn run(state_dir: &Path, mut ready: Option<OwnedFd>) -> Result<()> {
    let state_dir =
        std::fs::canonicalize(state_dir).ctx(|| format!("finding {}", state_dir.display()))?;
    daemonise(&state_dir)?;
    let result = create(&state_dir);
    match result {
        Ok(sup) => {
            let pid = sup.init_pid();
            report(
                &mut ready,
                &Reply {
                    pid: Some(pid),
                    ..Default::default()
                },
            );
            drop(ready);
            sup.run()
        }
        Err(e) => {
            report(
                &mut ready,
                &Reply {
                    error: Some(e.to_string()),
                    ..Default::default()
                },
            );
            let _ = std::fs::remove_file(state_dir.join(files::MONITOR_PID));
            Err(e)
        }
    }
}

fn create(state_dir: &Path) -> Result<supervisor::Supervisor> {
    state::write_atomic(
        &state_dir.join(files::MONITOR_PID),
        std::process::id().to_string().as_bytes(),
    )?;
    let spec: MonitorSpec =
        state::read_json(&state_dir.join(files::MONITOR_SPEC))?.ok_or_else(|| Error::Monitor {
            id: String::new(),
            message: format!("no {} in {}", files::MONITOR_SPEC, state_dir.display()),
        })?;
    let lc_root = state_dir.join(files::LIBCONTAINER_ROOT);
    std::fs::create_dir_all(&lc_root).ctx(|| format!("creating {}", lc_root.display()))?;
    let log = JsonFileLog::open(
        &spec.log_path,
        spec.config.log.max_size,
        spec.config.log.max_file,
    )?;

    let mut builder = ContainerBuilder::new(spec.id.clone(), SyscallType::default())
        .validate_id()
        .map_err(|e| Error::InvalidConfig(format!("container id {:?}: {e}", spec.id)))?
        .with_root_path(&lc_root)
        .map_err(|e| Error::container("opening the state root", e))?;
    let console_path = console::socket_path(&state_dir.join("console.sock"));
    let (io, listener) = if spec.config.tty {
        let l = console::listen(&console_path)?;
        builder = builder.with_console_socket(Some(&console_path));
        (ContainerIo::Tty(None), Some(l))
    } else {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let stdin = if spec.config.open_stdin {
            let (in_r, in_w) = pipe()?;
            builder = builder.with_stdin(in_r);
            Some(in_w)
        } else {
            let null = std::fs::File::open("/dev/null").ctx(|| "opening /dev/null".into())?;
            builder = builder.with_stdin(OwnedFd::from(null));
            None
        };
        builder = builder.with_stdout(out_w).with_stderr(err_w);
        (
            ContainerIo::Pipes {
                stdin,
                stdout: Some(out_r),
                stderr: Some(err_r),
            },
            None,
        )
    };

    let built = with_sigchld_unblocked(|| {
        builder
            .as_init(state_dir)
            .with_systemd(false)
            .with_detach(true)
            .build()
    });
    let container = built.map_err(|e| Error::container("creating the container", e))?;
    let io = match (io, listener) {
        (ContainerIo::Tty(_), Some(l)) => {
            let master = console::receive_master(&l);
            let _ = std::fs::remove_file(&console_path);
            ContainerIo::Tty(Some(master?))
        }
        (io, _) => io,
    };
    let pid = container.pid().map(|p| p.as_raw()).unwrap_or(0);
    let record = ContainerRecord {
        status: RecordedStatus::Created,
        pid,
        pid_start_time: state::process_start_time(pid).unwrap_or(0),
        monitor_pid: std::process::id() as i32,
        created_at: state::now_rfc3339_nano(),
        started_at: None,
        tty: spec.config.tty,
    };
    state::write_json(&state_dir.join(files::STATE), &record)?;
    // libcontainer's create allocates a lot once; give it back to the kernel.
    // SAFETY: malloc_trim only releases free heap memory; no pointer is invalidated.
    unsafe { libc::malloc_trim(0) };
    supervisor::Supervisor::new(state_dir.to_path_buf(), spec, container, io, log, record)
}
