//! `docker exec` inside the monitor: a process that joins every namespace and the cgroup
//! of the running container, through libcontainer's tenant builder (which clones, hence
//! here, in the single-threaded monitor). The process gets the container's capabilities,
//! rlimits and user unless told otherwise, and the container's seccomp profile:
//! libcontainer's tenant builder drops `linux.seccomp`, so [`SeccompExecutor`] installs it
//! right before exec, setting no_new_privs first when the filter needs it (capabilities
//! are already dropped at that point). This module never touches the container's init.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use nix::fcntl::OFlag;
use oci_spec::runtime::{LinuxSeccomp, Spec, UserBuilder};

use super::console;
use crate::config::ExecConfig;
use crate::error::{Error, IoContext, Result};
use crate::spec::{merge_env, user};

/// Runs the workload with the container's seccomp filter installed.
#[derive(Clone)]
pub struct SeccompExecutor {
    profile: Option<LinuxSeccomp>,
}

impl Executor for SeccompExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if let Some(profile) = &self.profile {
            // Capabilities are gone by now: without CAP_SYS_ADMIN the kernel only accepts a
            // filter from a no_new_privs task.
            nix::sys::prctl::set_no_new_privs()
                .map_err(|e| ExecutorError::Other(format!("setting no_new_privs: {e}")))?;
            libcontainer::seccomp::initialize_seccomp(profile)
                .map_err(|e| ExecutorError::Other(format!("installing the seccomp filter: {e}")))?;
        }
        DefaultExecutor {}.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        DefaultExecutor {}.validate(spec)
    }
}

/// The stdio of a running exec.
#[derive(Debug)]
pub enum ExecIo {
    /// stdin write end (None: /dev/null), stdout and stderr read ends
    Pipes {
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    /// the pty master
    Tty(OwnedFd),
}

/// The OCI process of an exec: the container's, with the exec's overrides.
pub fn exec_process(container: &Spec, cfg: &ExecConfig) -> Result<oci_spec::runtime::Process> {
    if cfg.args.is_empty() {
        return Err(Error::InvalidConfig(
            "exec needs a command: pass the program and its arguments".into(),
        ));
    }
    let mut process = container
        .process()
        .clone()
        .ok_or_else(|| Error::InvalidConfig("the container spec has no process".into()))?;
    let mut env = process.env().clone().unwrap_or_default();
    merge_env(&mut env, &cfg.env);
    process.set_args(Some(cfg.args.clone()));
    process.set_terminal(Some(cfg.tty));
    if !cfg.working_dir.is_empty() {
        process.set_cwd(PathBuf::from(&cfg.working_dir));
    }
    if !cfg.user.is_empty() {
        let rootfs = container
            .root()
            .as_ref()
            .map(|r| r.path().clone())
            .unwrap_or_default();
        let u = user::resolve_in_rootfs(&rootfs, &cfg.user, &[])?;
        process.set_user(
            UserBuilder::default()
                .uid(u.uid)
                .gid(u.gid)
                .additional_gids(u.additional_gids)
                .build()?,
        );
    }
    if cfg.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    process.set_env(Some(env));
    Ok(process)
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::sys("creating a pipe", e))
}

/// Starts an exec in container `id` whose libcontainer state lives under `lc_root`; `n`
/// makes its temporary file names unique within `state_dir`.
pub fn spawn(
    id: &str,
    state_dir: &Path,
    lc_root: &Path,
    container: &Spec,
    cfg: &ExecConfig,
    n: u64,
) -> Result<(nix::unistd::Pid, ExecIo)> {
    let process = exec_process(container, cfg)?;
    let process_path = state_dir.join(format!("exec-{n}.json"));
    crate::state::write_json(&process_path, &process)?;
    let console_path = console::socket_path(&state_dir.join(format!("exec-{n}.sock")));

    let mut builder = ContainerBuilder::new(id.to_string(), SyscallType::default())
        .with_root_path(lc_root)
        .map_err(|e| Error::container("opening the container state", e))?
        .with_executor(SeccompExecutor {
            profile: container.linux().as_ref().and_then(|l| l.seccomp().clone()),
        });
    let mut parent_ends = None;
    let mut listener = None;
    if cfg.tty {
        listener = Some(console::listen(&console_path)?);
        builder = builder.with_console_socket(Some(&console_path));
    } else {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let stdin_w = if cfg.attach_stdin {
            let (in_r, in_w) = pipe()?;
            builder = builder.with_stdin(in_r);
            Some(in_w)
        } else {
            let null = std::fs::File::open("/dev/null").ctx(|| "opening /dev/null".into())?;
            builder = builder.with_stdin(OwnedFd::from(null));
            None
        };
        builder = builder.with_stdout(out_w).with_stderr(err_w);
        parent_ends = Some((stdin_w, out_r, err_r));
    }

    let result = super::with_sigchld_unblocked(|| {
        builder
            .as_tenant()
            .with_process(Some(&process_path))
            .with_detach(true)
            .build()
    });
    let _ = std::fs::remove_file(&process_path);
    let pid = result.map_err(|e| Error::container("starting the exec process", e))?;
    let io = match (listener, parent_ends) {
        (Some(l), _) => {
            let master = console::receive_master(&l);
            let _ = std::fs::remove_file(&console_path);
            ExecIo::Tty(master?)
        }
        (None, Some((stdin, stdout, stderr))) => ExecIo::Pipes {
            stdin,
            stdout,
            stderr,
        },
        (None, None) => unreachable!("either a console or pipes were set up"),
    };
    Ok((pid, io))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_process_overrides_and_inherits() {
        let mut spec = Spec::default();
        let mut p = spec.process().clone().unwrap();
        p.set_env(Some(vec!["PATH=/bin".into(), "A=1".into()]));
        p.set_cwd("/srv".into());
        spec.set_process(Some(p));
        let cfg = ExecConfig {
            args: vec!["echo".into()],
            env: vec!["A=2".into(), "B=3".into()],
            tty: true,
            ..Default::default()
        };
        let out = exec_process(&spec, &cfg).unwrap();
        assert_eq!(
            out.env().as_ref().unwrap(),
            &vec!["PATH=/bin", "A=2", "B=3", "TERM=xterm"]
        );
        assert_eq!(out.cwd().to_str(), Some("/srv"));
        assert_eq!(out.args().as_ref().unwrap(), &vec!["echo".to_string()]);
        assert!(exec_process(&spec, &ExecConfig::default()).is_err());
    }
}
