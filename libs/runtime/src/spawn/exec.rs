//! `berth-spawn exec`: a process that joins every namespace and the cgroup of the running
//! container, through libcontainer's tenant builder (which clones, hence here, in the
//! single-threaded berth-spawn). The process gets the container's capabilities (all of
//! berth's with `--privileged`), rlimits and user unless told otherwise, and the
//! container's seccomp profile: libcontainer's tenant builder drops `linux.seccomp`, so
//! [`SeccompExecutor`] installs it right before exec, setting no_new_privs first when the filter needs it (capabilities
//! are already dropped at that point). This module never touches the container's init.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use berth_monitor::spawn::{self as protocol, SpawnReply};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use oci_spec::runtime::{LinuxCapabilitiesBuilder, LinuxSeccomp, Spec, UserBuilder};

use crate::ExecConfig;
use crate::error::{Error, Result};
use crate::spec::{capabilities, ensure_home, merge_env, user};
use crate::state::{self, files};

/// Runs the workload with the container's seccomp filter installed.
#[derive(Clone)]
struct SeccompExecutor {
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

/// The OCI process of an exec: the container's, with the exec's overrides.
fn exec_process(container: &Spec, cfg: &ExecConfig) -> Result<oci_spec::runtime::Process> {
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
    process.set_args(Some(cfg.args.clone()));
    process.set_terminal(Some(cfg.tty));
    if !cfg.working_dir.is_empty() {
        process.set_cwd(PathBuf::from(&cfg.working_dir));
    }
    // The container's own HOME, unless the exec's user or environment changes it.
    let mut home = env
        .iter()
        .find_map(|e| e.strip_prefix("HOME="))
        .unwrap_or("/")
        .to_string();
    merge_env(&mut env, &cfg.env);
    if !cfg.user.is_empty() {
        let rootfs = container
            .root()
            .as_ref()
            .map(|r| r.path().clone())
            .unwrap_or_default();
        let u = user::resolve_in_rootfs(&rootfs, &cfg.user, &[])?;
        home = u.home.clone();
        process.set_user(
            UserBuilder::default()
                .uid(u.uid)
                .gid(u.gid)
                .additional_gids(u.additional_gids)
                .build()?,
        );
    }
    ensure_home(&mut env, &home);
    if cfg.privileged {
        // Docker's exec --privileged: all capabilities berth holds (berth-spawn's
        // bounding set is the runner's), whatever the container's; the container's
        // seccomp filter still applies, as under Docker.
        let all = capabilities::effective_set(true, &[], &[], capabilities::daemon_bounding_set())?;
        let all = capabilities::to_oci(&all)?;
        let mut caps = LinuxCapabilitiesBuilder::default()
            .bounding(all.clone())
            .effective(all.clone())
            .permitted(all)
            .build()?;
        caps.set_inheritable(None);
        caps.set_ambient(None);
        process.set_capabilities(Some(caps));
    }
    if cfg.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    process.set_env(Some(env));
    Ok(process)
}

/// Reads the exec configuration from `control`, starts the process in the container of
/// `state_dir` with the stdio berth-monitor passed (or its console socket), and answers
/// the process's pid.
pub(super) fn run(
    state_dir: &Path,
    console: Option<&Path>,
    control: &mut UnixStream,
) -> Result<()> {
    let line =
        protocol::read_line(control).map_err(|e| Error::io("reading the exec configuration", e))?;
    let cfg: ExecConfig = serde_json::from_slice(&line)
        .map_err(|e| Error::json("reading the exec configuration", e))?;
    let container: Spec = state::read_json(&state_dir.join(files::SPEC))?
        .ok_or_else(|| Error::InvalidConfig("the container's config.json is gone".into()))?;
    let id = super::monitor_config(state_dir)?.id;
    let process = exec_process(&container, &cfg)?;
    // libcontainer takes the process as a file; it lives only until the build returns.
    let process_path = state_dir.join(format!(".exec-{}.json", std::process::id()));
    state::write_json(&process_path, &process, state::Sync::Volatile)?;

    let profile = container.linux().as_ref().and_then(|l| l.seccomp().clone());
    // The container's create compiled and stored this profile: load that program. No
    // capture here, as the filter is loaded by the executor, after libcontainer returns.
    let _held =
        super::seccomp_cache::prepare(super::runtime_root(state_dir), profile.as_ref(), false);
    let lc_root = state_dir.join(files::LIBCONTAINER_ROOT);
    let mut builder = ContainerBuilder::new(id, SyscallType::default())
        .with_root_path(&lc_root)
        .map_err(|e| Error::container("opening the container state", e))?
        .with_executor(SeccompExecutor { profile });
    builder = match console {
        Some(path) => builder.with_console_socket(Some(path)),
        None => {
            let [stdin, stdout, stderr] = super::inherited_stdio();
            builder
                .with_stdin(stdin)
                .with_stdout(stdout)
                .with_stderr(stderr)
        }
    };
    let result = builder
        .as_tenant()
        .with_process(Some(&process_path))
        .with_detach(true)
        .build();
    let _ = std::fs::remove_file(&process_path);
    let pid = result.map_err(|e| Error::container("starting the exec process", e))?;
    protocol::answer(
        control,
        &SpawnReply {
            pid: Some(pid.as_raw()),
            error: None,
        },
    )
    .map_err(|e| Error::io("answering berth-monitor", e))
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
            &vec!["PATH=/bin", "A=2", "B=3", "HOME=/", "TERM=xterm"]
        );
        assert_eq!(out.cwd().to_str(), Some("/srv"));
        assert_eq!(out.args().as_ref().unwrap(), &vec!["echo".to_string()]);
        assert!(exec_process(&spec, &ExecConfig::default()).is_err());
        // An empty HOME would make libcontainer look it up with NSS inside the container.
        let cfg = ExecConfig {
            args: vec!["id".into()],
            env: vec!["HOME=".into()],
            ..Default::default()
        };
        let out = exec_process(&spec, &cfg).unwrap();
        assert!(out.env().as_ref().unwrap().contains(&"HOME=/".to_string()));
    }
}
