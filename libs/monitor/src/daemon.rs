//! The monitor's life before its loop: started by berth-runtime as `berth-monitor
//! --ready-fd 3 --spawn-fd 4 <state-dir>` (4: a sealed in-memory copy of berth-spawn,
//! the only form of it the monitor runs), it daemonises (double fork + setsid, so the container
//! outlives a runner restart or SIGKILL), becomes a child subreaper, has `berth-spawn`
//! create the container with the stdio it holds (pipes, or a console socket for `tty`),
//! reports "created" (or the error) on the ready pipe, then hands over to the supervisor.

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::unistd::{ForkResult, fork, setsid};

use crate::console;
use crate::error::{Error, IoContext, Result};
use crate::json_log::JsonFileLog;
use crate::protocol::Reply;
use crate::spawn::{Action, ChildStdio, Spawner};
use crate::state::{self, ContainerRecord, MonitorConfig, RecordedStatus, Sync, files};
use crate::supervisor;

/// The container's stdio as the monitor holds it.
#[derive(Debug)]
pub(crate) enum ContainerIo {
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
    let (mut ready_fd, mut spawn_fd, mut state_dir) = (None, None, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--ready-fd" => ready_fd = rest.next().and_then(|fd| fd.parse::<i32>().ok()),
            "--spawn-fd" => spawn_fd = rest.next().and_then(|fd| fd.parse::<i32>().ok()),
            dir if state_dir.is_none() && !dir.starts_with("--") => {
                state_dir = Some(PathBuf::from(dir))
            }
            _ => state_dir = None,
        }
    }
    let Some(state_dir) = state_dir else {
        eprintln!(
            "usage: berth-monitor [--ready-fd N] [--spawn-fd N] STATE_DIR\n(started by berth's runtime, not by hand)"
        );
        std::process::exit(2);
    };
    // SAFETY: the runtime passes us this descriptor (dup2'd to this number) for our sole
    // use; nothing else in this fresh process owns it.
    let ready = ready_fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    // Ours alone: berth-spawn and the container must not hold the runtime's pipe open.
    if let Some(fd) = &ready {
        use nix::fcntl::{FcntlArg, FdFlag, fcntl};
        use std::os::fd::AsRawFd;
        let _ = fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
    if let Some(fd) = spawn_fd {
        // SAFETY: as for the ready pipe: the runtime's sealed copy of berth-spawn, ours.
        crate::spawn::use_sealed_copy(unsafe { OwnedFd::from_raw_fd(fd) });
    }
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

pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::sys("creating a pipe", e))
}

fn run(state_dir: &Path, mut ready: Option<OwnedFd>) -> Result<()> {
    let state_dir =
        std::fs::canonicalize(state_dir).ctx(|| format!("finding {}", state_dir.display()))?;
    daemonise(&state_dir)?;
    match create(&state_dir) {
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
        Sync::Volatile,
    )?;
    let config: MonitorConfig = state::read_json(&state_dir.join(files::MONITOR_SPEC))?
        .ok_or_else(|| {
            Error::InvalidConfig(format!(
                "no {} in {}",
                files::MONITOR_SPEC,
                state_dir.display()
            ))
        })?;
    let lc_root = state_dir.join(files::LIBCONTAINER_ROOT);
    std::fs::create_dir_all(&lc_root).ctx(|| format!("creating {}", lc_root.display()))?;
    let log = JsonFileLog::open(&config.log_path, config.log_max_size, config.log_max_file)?;

    let console_path = console::socket_path(&state_dir.join("console.sock"));
    let (io, listener, stdio) = if config.tty {
        let l = console::listen(&console_path)?;
        (
            ContainerIo::Tty(None),
            Some(l),
            ChildStdio::Console(console_path.clone()),
        )
    } else {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (stdin, child_stdin) = if config.open_stdin {
            let (in_r, in_w) = pipe()?;
            (Some(in_w), in_r)
        } else {
            let null = std::fs::File::open("/dev/null").ctx(|| "opening /dev/null".into())?;
            (None, OwnedFd::from(null))
        };
        (
            ContainerIo::Pipes {
                stdin,
                stdout: Some(out_r),
                stderr: Some(err_r),
            },
            None,
            ChildStdio::Pipes([child_stdin, out_w, err_w]),
        )
    };

    let mut creator = Spawner::run(&config.spawn, Action::Create, state_dir, stdio)?;
    let pid = match creator.reply("creating the container") {
        Ok(pid) => pid,
        Err(e) => {
            let _ = std::fs::remove_file(&console_path);
            return Err(e);
        }
    };
    let io = match (io, listener) {
        (ContainerIo::Tty(_), Some(l)) => {
            let master = console::receive_master(&l);
            let _ = std::fs::remove_file(&console_path);
            ContainerIo::Tty(Some(master?))
        }
        (io, _) => io,
    };
    let record = ContainerRecord {
        status: RecordedStatus::Created,
        pid,
        pid_start_time: state::process_start_time(pid).unwrap_or(0),
        monitor_pid: std::process::id() as i32,
        created_at: state::now_rfc3339_nano(),
        started_at: None,
        tty: config.tty,
    };
    state::write_json(&state_dir.join(files::STATE), &record, Sync::Volatile)?;
    supervisor::Supervisor::new(state_dir.to_path_buf(), config, creator, io, log, record)
}
