//! `docker exec`: extra processes in a running container. Exec instances live in the
//! runner's memory, as in Docker: they are gone when the runner restarts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_proto::v1::exec_start_request::Input as In;
use berth_proto::v1::exec_start_response::Output as Out;
use berth_proto::v1::*;
use futures::StreamExt;
use tonic::{Response, Status, Streaming};

use crate::containers::Containers;
use crate::rpc::blocking;
use crate::rpc::status::runtime_status;
use crate::rpc::stdio::{ClientInput, Output, pump};

type Stream<T> = tonic::codegen::BoxStream<T>;

/// One exec instance.
#[derive(Debug, Clone)]
pub struct Exec {
    pub container: String,
    pub request: ExecCreateRequest,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: i64,
}

/// The exec instances of this runner.
#[derive(Debug, Default)]
pub struct Execs(Mutex<HashMap<String, Exec>>);

impl Execs {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Exec>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

pub async fn create(
    c: &Arc<Containers>,
    execs: &Execs,
    r: ExecCreateRequest,
) -> Result<Response<ExecCreateResponse>, Status> {
    let record = c.find(&r.container)?;
    // `docker exec` starts right after this; the process joins the container's cgroup.
    tokio::task::spawn_blocking(berth_runtime::cgroups::warm_migration_lock);
    let this = c.clone();
    let id = record.id.clone();
    let running = blocking(move || this.runtime.state(&id).map_err(runtime_status))
        .await?
        .status;
    if running != berth_runtime::Status::Running {
        return Err(Status::failed_precondition(format!(
            "container {} is not running",
            &record.id[..12]
        )));
    }
    if r.cmd.is_empty() {
        return Err(Status::invalid_argument("no exec command specified"));
    }
    let exec_id = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    execs.with(|m| {
        m.insert(
            exec_id.clone(),
            Exec {
                container: record.id.clone(),
                request: r,
                running: false,
                exit_code: None,
                pid: 0,
            },
        )
    });
    Ok(Response::new(ExecCreateResponse { exec_id }))
}

pub async fn start(
    c: &Arc<Containers>,
    execs: &Arc<Execs>,
    mut input: Streaming<ExecStartRequest>,
) -> Result<Response<Stream<ExecStartResponse>>, Status> {
    let header = match input.message().await?.and_then(|m| m.input) {
        Some(In::Header(h)) => h,
        _ => {
            return Err(Status::invalid_argument(
                "the first ExecStart message must be the header",
            ));
        }
    };
    let exec = execs
        .with(|m| m.get(&header.exec_id).cloned())
        .ok_or_else(|| Status::not_found(format!("No such exec instance: {}", header.exec_id)))?;
    if exec.running || exec.exit_code.is_some() {
        return Err(Status::failed_precondition(format!(
            "exec instance {} has already been started",
            header.exec_id
        )));
    }
    let r = &exec.request;
    let config = berth_runtime::ExecConfig {
        args: r.cmd.clone(),
        env: r.env.clone(),
        user: r.user.clone(),
        working_dir: r.working_dir.clone(),
        tty: r.tty,
        attach_stdin: r.attach_stdin,
        privileged: r.privileged,
    };
    let (this, container) = (c.clone(), exec.container.clone());
    let session = blocking(move || {
        this.runtime
            .exec(&container, &config)
            .map_err(runtime_status)
    })
    .await?;
    let pid = session.pid().unwrap_or(0) as i64;
    let exec_id = header.exec_id.clone();
    execs.with(|m| {
        if let Some(e) = m.get_mut(&exec_id) {
            e.running = true;
            e.pid = pid;
        }
    });
    let inputs = input.filter_map(|m| {
        std::future::ready(
            m.ok()
                .and_then(|m| m.input)
                .and_then(ClientInput::into_input),
        )
    });
    let (this, container) = (c.clone(), exec.container.clone());
    let resize = move |w, h| {
        let _ = this.runtime.resize(&container, w, h, Some(pid as i32));
    };
    let registry = execs.clone();
    let output = pump(session, exec.request.attach_stdin, inputs, resize)?.map(move |o| {
        o.map(|o| ExecStartResponse {
            output: Some(match o {
                Output::Data(stream, data) => Out::Frame(OutputFrame {
                    stream: stream as i32,
                    data,
                }),
                Output::Exit(code) => {
                    registry.with(|m| {
                        if let Some(e) = m.get_mut(&exec_id) {
                            e.running = false;
                            e.exit_code = Some(code);
                        }
                    });
                    Out::Exit(ProcessExit { exit_code: code })
                }
            }),
        })
    });
    Ok(Response::new(Box::pin(output)))
}

pub fn inspect(
    execs: &Execs,
    r: ExecInspectRequest,
) -> Result<Response<ExecInspectResponse>, Status> {
    let e = execs
        .with(|m| m.get(&r.exec_id).cloned())
        .ok_or_else(|| Status::not_found(format!("No such exec instance: {}", r.exec_id)))?;
    Ok(Response::new(ExecInspectResponse {
        id: r.exec_id,
        container_id: e.container,
        running: e.running,
        exit_code: e.exit_code,
        pid: e.pid,
        cmd: e.request.cmd.clone(),
        user: e.request.user.clone(),
        tty: e.request.tty,
        working_dir: e.request.working_dir.clone(),
        open_stdin: e.request.attach_stdin,
        open_stdout: e.request.attach_stdout,
        open_stderr: e.request.attach_stderr,
        ..Default::default()
    }))
}

/// `POST /exec/{id}/resize`: the docker CLI sizes an exec's terminal once it has started,
/// and again on every SIGWINCH.
pub async fn resize(
    c: &Arc<Containers>,
    execs: &Execs,
    r: ExecResizeRequest,
) -> Result<Response<ExecResizeResponse>, Status> {
    let e = execs
        .with(|m| m.get(&r.exec_id).cloned())
        .ok_or_else(|| Status::not_found(format!("No such exec instance: {}", r.exec_id)))?;
    if !e.running || e.pid <= 0 {
        return Err(Status::failed_precondition(format!(
            "exec {} is not running",
            r.exec_id
        )));
    }
    if !e.request.tty {
        return Err(Status::failed_precondition(format!(
            "exec {} has no terminal to resize",
            r.exec_id
        )));
    }
    let size = r.size.unwrap_or_default();
    let this = c.clone();
    blocking(move || {
        this.runtime
            .resize(
                &e.container,
                size.width as u16,
                size.height as u16,
                Some(e.pid as i32),
            )
            .map_err(runtime_status)
    })
    .await?;
    Ok(Response::new(ExecResizeResponse {}))
}
