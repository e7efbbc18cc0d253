//! The exec RPCs: each turns a request into a call on [`Containers`]' exec verbs, and
//! moves the process's stdio over the stream.

use std::sync::Arc;

use berth_proto::v1::exec_start_request::Input as In;
use berth_proto::v1::exec_start_response::Output as Out;
use berth_proto::v1::*;
use futures::StreamExt;
use tonic::{Response, Status, Streaming};

use crate::containers::Containers;
use crate::containers::exec::{ExecSpec, Execs};
use crate::rpc::stdio::{ClientInput, Output, pump};

type Stream<T> = tonic::codegen::BoxStream<T>;

pub async fn create(
    c: &Arc<Containers>,
    execs: &Execs,
    r: ExecCreateRequest,
) -> Result<Response<ExecCreateResponse>, Status> {
    let spec = ExecSpec {
        cmd: r.cmd,
        env: r.env,
        working_dir: r.working_dir,
        user: r.user,
        tty: r.tty,
        attach_stdin: r.attach_stdin,
        attach_stdout: r.attach_stdout,
        attach_stderr: r.attach_stderr,
        privileged: r.privileged,
    };
    let exec_id = c.exec_create(execs, &r.container, spec).await?;
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
    let exec_id = header.exec_id;
    let (exec, session) = c.exec_start(execs, &exec_id).await?;
    let inputs = input.filter_map(|m| {
        std::future::ready(
            m.ok()
                .and_then(|m| m.input)
                .and_then(ClientInput::into_input),
        )
    });
    let (this, container, pid) = (c.clone(), exec.container.clone(), exec.pid as i32);
    let resize = move |w, h| this.resize_quietly(&container, w, h, Some(pid));
    let registry = execs.clone();
    let output = pump(session, exec.spec.attach_stdin, inputs, resize)?.map(move |o| {
        o.map(|o| ExecStartResponse {
            output: Some(match o {
                Output::Data(stream, data) => Out::Frame(OutputFrame {
                    stream: stream as i32,
                    data,
                }),
                Output::Exit(code) => {
                    registry.exited(&exec_id, code);
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
    let e = execs.get(&r.exec_id)?;
    Ok(Response::new(ExecInspectResponse {
        id: r.exec_id,
        container_id: e.container,
        running: e.running,
        exit_code: e.exit_code,
        pid: e.pid,
        cmd: e.spec.cmd.clone(),
        user: e.spec.user.clone(),
        tty: e.spec.tty,
        working_dir: e.spec.working_dir.clone(),
        open_stdin: e.spec.attach_stdin,
        open_stdout: e.spec.attach_stdout,
        open_stderr: e.spec.attach_stderr,
        ..Default::default()
    }))
}

/// `POST /exec/{id}/resize`.
pub async fn resize(
    c: &Arc<Containers>,
    execs: &Execs,
    r: ExecResizeRequest,
) -> Result<Response<ExecResizeResponse>, Status> {
    let size = r.size.unwrap_or_default();
    c.exec_resize(execs, &r.exec_id, size.width as u16, size.height as u16)
        .await?;
    Ok(Response::new(ExecResizeResponse {}))
}
