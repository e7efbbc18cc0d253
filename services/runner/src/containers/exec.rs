//! `docker exec`: extra processes in a running container. Exec instances live in the
//! runner's memory, as in Docker: they are gone when the runner restarts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_runtime::Session;

use super::{ContainerError, Containers, blocking};

/// What `docker exec` asks to run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecSpec {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub tty: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub privileged: bool,
}

/// One exec instance.
#[derive(Debug, Clone)]
pub struct Exec {
    pub container: String,
    pub spec: ExecSpec,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: i64,
}

/// The exec instances of this runner.
#[derive(Debug, Default)]
pub struct Execs(Mutex<HashMap<String, Exec>>);

fn no_such(id: &str) -> ContainerError {
    ContainerError::not_found(format!("No such exec instance: {id}"))
}

impl Execs {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Exec>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The exec instance `id`, or Docker's "No such exec instance".
    pub fn get(&self, id: &str) -> Result<Exec, ContainerError> {
        self.with(|m| m.get(id).cloned()).ok_or_else(|| no_such(id))
    }

    /// Records the exit of exec `id`'s process.
    pub fn exited(&self, id: &str, code: i32) {
        self.with(|m| {
            if let Some(e) = m.get_mut(id) {
                e.running = false;
                e.exit_code = Some(code);
            }
        });
    }
}

impl Containers {
    /// Makes an exec instance in the running container `text`; returns its ID.
    pub async fn exec_create(
        self: &Arc<Self>,
        execs: &Execs,
        text: &str,
        spec: ExecSpec,
    ) -> Result<String, ContainerError> {
        let record = self.find(text)?;
        // `docker exec` starts right after this; the process joins the container's cgroup.
        tokio::task::spawn_blocking(berth_runtime::cgroups::warm_migration_lock);
        let this = self.clone();
        let id = record.id.clone();
        let running = blocking(move || Ok(this.runtime.state(&id)?)).await?.status;
        if running != berth_runtime::Status::Running {
            return Err(ContainerError::state(format!(
                "container {} is not running",
                &record.id[..12]
            )));
        }
        if spec.cmd.is_empty() {
            return Err(ContainerError::invalid("no exec command specified"));
        }
        let exec_id = crate::random_id();
        execs.with(|m| {
            m.insert(
                exec_id.clone(),
                Exec {
                    container: record.id.clone(),
                    spec,
                    running: false,
                    exit_code: None,
                    pid: 0,
                },
            )
        });
        Ok(exec_id)
    }

    /// Starts exec `exec_id`'s process; returns the instance and the process's stdio.
    pub async fn exec_start(
        self: &Arc<Self>,
        execs: &Execs,
        exec_id: &str,
    ) -> Result<(Exec, Session), ContainerError> {
        let exec = execs.get(exec_id)?;
        if exec.running || exec.exit_code.is_some() {
            return Err(ContainerError::state(format!(
                "exec instance {exec_id} has already been started"
            )));
        }
        let s = &exec.spec;
        let config = berth_runtime::ExecConfig {
            args: s.cmd.clone(),
            env: s.env.clone(),
            user: s.user.clone(),
            working_dir: s.working_dir.clone(),
            tty: s.tty,
            attach_stdin: s.attach_stdin,
            privileged: s.privileged,
        };
        let (this, container) = (self.clone(), exec.container.clone());
        let session = blocking(move || Ok(this.runtime.exec(&container, &config)?)).await?;
        let pid = session.pid().unwrap_or(0) as i64;
        execs.with(|m| {
            if let Some(e) = m.get_mut(exec_id) {
                e.running = true;
                e.pid = pid;
            }
        });
        Ok((execs.get(exec_id)?, session))
    }

    /// Sizes a running exec's terminal: the docker CLI does once it has started, and
    /// again on every SIGWINCH.
    pub async fn exec_resize(
        self: &Arc<Self>,
        execs: &Execs,
        exec_id: &str,
        width: u16,
        height: u16,
    ) -> Result<(), ContainerError> {
        let e = execs.get(exec_id)?;
        if !e.running || e.pid <= 0 {
            return Err(ContainerError::state(format!(
                "exec {exec_id} is not running"
            )));
        }
        if !e.spec.tty {
            return Err(ContainerError::state(format!(
                "exec {exec_id} has no terminal to resize"
            )));
        }
        let this = self.clone();
        blocking(move || {
            Ok(this
                .runtime
                .resize(&e.container, width, height, Some(e.pid as i32))?)
        })
        .await
    }
}
