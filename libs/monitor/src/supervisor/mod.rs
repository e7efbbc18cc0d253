//! The monitor's poll(2) loop: container output to the json-file log and to attached
//! clients, client input to the container's stdin, control requests, reaping, and the
//! exit record. Single-threaded; every descriptor is non-blocking, and every buffer is
//! bounded (a client that cannot keep up is dropped rather than waited for).
//! `endpoints` holds the client connections and stdin queues, `io` moves bytes and
//! reaps, `requests` answers the control protocol.

mod endpoints;
mod io;
mod requests;

use crate::daemon::ContainerIo;
use crate::error::{Error, IoContext, Result};
use crate::json_log::{JsonFileLog, Stream};
use crate::spawn::Spawner;
use crate::state::{ContainerRecord, ExitRecord, MonitorConfig, files};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use endpoints::{Client, Role, Stdin, flush_tty};

const MAX_CLIENT_QUEUE: usize = 1 << 20;
/// Most stdin bytes queued for a process before its client stops being read.
const MAX_STDIN_QUEUE: usize = 64 * 1024;
/// How long output may still drain after a process exited (orphans can hold the pipes).
const DRAIN: Duration = Duration::from_secs(2);
const READ_CHUNK: usize = 32 * 1024;

struct ExecProc {
    pid: Pid,
    client: Option<u64>,
    out: [Option<OwnedFd>; 2],
    tty: Option<OwnedFd>,
    stdin: Stdin,
    exit: Option<(i32, Instant)>,
}

#[derive(Clone, Copy)]
enum Target {
    Listener,
    Signals,
    Out(Stream),
    Tty,
    Stdin,
    Client(u64),
    ExecOut(Pid, Stream),
    ExecTty(Pid),
    ExecStdin(Pid),
}

/// The running monitor of one container.
pub(super) struct Supervisor {
    state_dir: PathBuf,
    spec: MonitorConfig,
    /// berth-spawn, waiting to start the created container; gone once it is started
    creator: Option<Spawner>,
    record: ContainerRecord,
    init: Pid,
    out: [Option<OwnedFd>; 2],
    tty: Option<OwnedFd>,
    stdin: Stdin,
    log: JsonFileLog,
    listener: UnixListener,
    signals: SignalFd,
    clients: Vec<Client>,
    execs: Vec<ExecProc>,
    next_id: u64,
    init_exit: Option<(i32, Instant)>,
    exit: Option<ExitRecord>,
    buf: Vec<u8>,
    /// one-off work was done: give memory back once every reply is out (see residency)
    trim_due: bool,
}

fn set_nonblocking(fd: &impl AsRawFd) {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    if let Ok(flags) = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd.as_raw_fd(),
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        );
    }
}

/// Makes every descriptor of one process's stdio non-blocking.
fn nonblocking_stdio(out: &[Option<OwnedFd>; 2], tty: Option<&OwnedFd>, stdin: Option<&OwnedFd>) {
    for fd in out.iter().flatten().chain(tty).chain(stdin) {
        set_nonblocking(fd);
    }
}

fn exit_code(status: WaitStatus) -> Option<(Pid, i32)> {
    match status {
        WaitStatus::Exited(pid, code) => Some((pid, code)),
        WaitStatus::Signaled(pid, sig, _) => Some((pid, 128 + sig as i32)),
        _ => None,
    }
}

impl Supervisor {
    pub(super) fn new(
        state_dir: PathBuf,
        spec: MonitorConfig,
        creator: Spawner,
        io: ContainerIo,
        log: JsonFileLog,
        record: ContainerRecord,
    ) -> Result<Self> {
        let sock = state_dir.join(files::MONITOR_SOCK);
        let _ = std::fs::remove_file(&sock);
        // Relative to the state directory (our cwd): a socket path is limited to 108 bytes.
        let listener = UnixListener::bind(files::MONITOR_SOCK)
            .ctx(|| format!("listening on {}", sock.display()))?;
        listener
            .set_nonblocking(true)
            .ctx(|| "making the socket non-blocking".into())?;
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        mask.thread_block()
            .map_err(|e| Error::sys("blocking SIGCHLD", e))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| Error::sys("creating a signalfd", e))?;
        let (out, tty, stdin_fd) = match io {
            ContainerIo::Pipes {
                stdin,
                stdout,
                stderr,
            } => ([stdout, stderr], None, stdin),
            ContainerIo::Tty(master) => ([None, None], master, None),
        };
        nonblocking_stdio(&out, tty.as_ref(), stdin_fd.as_ref());
        Ok(Supervisor {
            init: Pid::from_raw(record.pid),
            state_dir,
            spec,
            creator: Some(creator),
            record,
            out,
            tty,
            stdin: Stdin::new(stdin_fd),
            log,
            listener,
            signals,
            clients: Vec::new(),
            execs: Vec::new(),
            next_id: 1,
            init_exit: None,
            exit: None,
            buf: vec![0u8; READ_CHUNK],
            // Creating the container was the biggest piece of one-off work.
            trim_due: true,
        })
    }

    pub(super) fn init_pid(&self) -> i32 {
        self.init.as_raw()
    }

    /// Runs until the container has exited and every client got its answer.
    pub(super) fn run(mut self) -> Result<()> {
        self.reap();
        let mut finished_at: Option<Instant> = None;
        loop {
            if self.exit.is_none() && self.container_done() {
                self.finish();
                finished_at = Some(Instant::now());
            }
            if let Some(t) = finished_at {
                let pending = self.clients.iter().any(|c| !c.out.is_empty() && !c.dead);
                if !pending || t.elapsed() > DRAIN {
                    break;
                }
            }
            let (targets, ready) = self.wait_ready()?;
            for (target, flags) in targets.into_iter().zip(ready) {
                if !flags.is_empty() {
                    self.handle(target, flags);
                }
            }
            self.finish_execs();
            for c in &mut self.clients {
                c.flush();
            }
            self.clients.retain(|c| !c.dead);
            // Not before the replies are out: trimming costs a read of smaps, and the
            // runner (a `docker run`) waits on the reply to `start`.
            if self.trim_due && self.clients.iter().all(|c| c.out.is_empty()) {
                crate::residency::trim();
                self.trim_due = false;
            }
        }
        let _ = std::fs::remove_file(self.state_dir.join(files::MONITOR_SOCK));
        let _ = std::fs::remove_file(self.state_dir.join(files::MONITOR_PID));
        Ok(())
    }

    fn container_done(&self) -> bool {
        match self.init_exit {
            Some((_, at)) => {
                (self.out.iter().all(Option::is_none) && self.tty.is_none()) || at.elapsed() > DRAIN
            }
            None => false,
        }
    }

    fn wait_ready(&mut self) -> Result<(Vec<Target>, Vec<PollFlags>)> {
        let input = PollFlags::POLLIN;
        let mut wanted: Vec<(Target, BorrowedFd<'_>, PollFlags)> = vec![
            (Target::Listener, self.listener.as_fd(), input),
            (Target::Signals, self.signals.as_fd(), input),
        ];
        for (i, s) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
            if let Some(fd) = &self.out[i] {
                wanted.push((Target::Out(s), fd.as_fd(), input));
            }
        }
        if let Some(fd) = &self.tty {
            let out = if self.stdin.queue.is_empty() {
                PollFlags::empty()
            } else {
                PollFlags::POLLOUT
            };
            wanted.push((Target::Tty, fd.as_fd(), input | out));
        }
        if let (Some(fd), false) = (&self.stdin.fd, self.stdin.queue.is_empty()) {
            wanted.push((Target::Stdin, fd.as_fd(), PollFlags::POLLOUT));
        }
        for c in &self.clients {
            let mut f = PollFlags::empty();
            if !c.read_closed && self.stdin_room(c) {
                f |= input;
            }
            if !c.out.is_empty() {
                f |= PollFlags::POLLOUT;
            }
            wanted.push((Target::Client(c.id), c.stream.as_fd(), f));
        }
        for e in &self.execs {
            for (i, s) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
                if let Some(fd) = &e.out[i] {
                    wanted.push((Target::ExecOut(e.pid, s), fd.as_fd(), input));
                }
            }
            if let Some(fd) = &e.tty {
                let out = if e.stdin.queue.is_empty() {
                    PollFlags::empty()
                } else {
                    PollFlags::POLLOUT
                };
                wanted.push((Target::ExecTty(e.pid), fd.as_fd(), input | out));
            }
            if let (Some(fd), false) = (&e.stdin.fd, e.stdin.queue.is_empty()) {
                wanted.push((Target::ExecStdin(e.pid), fd.as_fd(), PollFlags::POLLOUT));
            }
        }
        let busy = self.init_exit.is_some()
            || self.exit.is_some()
            || self.execs.iter().any(|e| e.exit.is_some());
        let timeout = if busy {
            PollTimeout::from(100u16)
        } else {
            PollTimeout::NONE
        };
        let targets: Vec<Target> = wanted.iter().map(|(t, _, _)| *t).collect();
        let mut fds: Vec<PollFd<'_>> = wanted
            .into_iter()
            .map(|(_, fd, f)| PollFd::new(fd, f))
            .collect();
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(Error::sys("poll", e)),
        }
        let ready = fds
            .iter()
            .map(|f| f.revents().unwrap_or(PollFlags::empty()))
            .collect();
        Ok((targets, ready))
    }

    /// Whether the stdin this client feeds has room (clients that feed nothing: always).
    fn stdin_room(&self, c: &Client) -> bool {
        match c.role {
            Role::Attach { stdin: true, .. } => self.stdin.queue.len() < MAX_STDIN_QUEUE,
            Role::Exec(pid) => self
                .execs
                .iter()
                .find(|e| e.pid == pid)
                .is_none_or(|e| e.stdin.queue.len() < MAX_STDIN_QUEUE),
            _ => true,
        }
    }

    fn handle(&mut self, target: Target, flags: PollFlags) {
        match target {
            Target::Listener => self.accept(),
            Target::Signals => {
                while let Ok(Some(_)) = self.signals.read_signal() {}
                self.reap();
            }
            Target::Out(s) => self.container_output(s),
            Target::Tty => {
                if flags.contains(PollFlags::POLLOUT) {
                    self.flush_tty_input();
                }
                if flags.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                    self.container_output(Stream::Stdout);
                }
            }
            Target::Stdin => self.stdin.flush(),
            Target::Client(id) => {
                if flags.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                    self.client_input(id);
                }
            }
            Target::ExecOut(pid, s) => self.exec_output(pid, Some(s)),
            Target::ExecTty(pid) => {
                if flags.contains(PollFlags::POLLOUT)
                    && let Some(e) = self.execs.iter_mut().find(|e| e.pid == pid)
                {
                    flush_tty(&mut e.stdin, e.tty.as_ref());
                }
                if flags.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                    self.exec_output(pid, None);
                }
            }
            Target::ExecStdin(pid) => {
                if let Some(e) = self.execs.iter_mut().find(|e| e.pid == pid) {
                    e.stdin.flush();
                }
            }
        }
    }

    fn flush_tty_input(&mut self) {
        flush_tty(&mut self.stdin, self.tty.as_ref());
    }
}
