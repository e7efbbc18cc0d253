//! `docker exec`: `POST /containers/{id}/exec`, `POST /exec/{id}/start` (hijacked like
//! attach), `GET /exec/{id}/json`.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use berth_proto::v1::exec_start_request::Input;
use berth_proto::v1::exec_start_response::Output;
use berth_proto::v1::{
    CloseStdin, ExecCreateRequest, ExecInspectRequest, ExecResizeRequest, ExecStartHeader,
    ExecStartRequest, StdioStream,
};
use futures::StreamExt;
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::hijack::{self, Piece, StdinSink};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ExecConfig {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    user: String,
    working_dir: String,
    privileged: bool,
    detach_keys: String,
    // Sent by the CLI; berth sizes the terminal through the resize call instead.
    console_size: Option<serde_json::Value>,
}

pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c: ExecConfig = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid exec config: {e}")))?;
    let mut runner = state.runner_for(&id).await?;
    let created = runner
        .exec_create(ExecCreateRequest {
            container: id,
            cmd: c.cmd.unwrap_or_default(),
            env: c.env.unwrap_or_default(),
            working_dir: c.working_dir,
            user: c.user,
            tty: c.tty,
            attach_stdin: c.attach_stdin,
            attach_stdout: c.attach_stdout,
            attach_stderr: c.attach_stderr,
            privileged: c.privileged,
            detach_keys: c.detach_keys,
            console_size: None,
        })
        .await?
        .into_inner();
    Ok((StatusCode::CREATED, Json(json!({ "Id": created.exec_id }))).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StartConfig {
    detach: bool,
    tty: bool,
    console_size: Option<serde_json::Value>,
}

pub async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    mut req: Request<Body>,
) -> Result<Response, ApiError> {
    let body = axum::body::to_bytes(std::mem::take(req.body_mut()), 1 << 20)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request: {e}")))?;
    let start: StartConfig = if body.is_empty() {
        StartConfig::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid exec start config: {e}")))?
    };
    let mut runner = state.runner_for_exec(&id).await?;
    let info = runner
        .exec_inspect(ExecInspectRequest {
            exec_id: id.clone(),
        })
        .await?
        .into_inner();
    let (tx, rx) = tokio::sync::mpsc::channel::<ExecStartRequest>(16);
    let header = ExecStartHeader {
        exec_id: id,
        detach: start.detach,
        tty: start.tty,
        console_size: None,
    };
    let _ = tx
        .send(ExecStartRequest {
            input: Some(Input::Header(header)),
        })
        .await;
    let stream = runner
        .exec_start(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    let output = stream.map(|m| match m.ok().and_then(|m| m.output) {
        Some(Output::Frame(f)) => Piece::Data(
            if f.stream == StdioStream::Stderr as i32 {
                2
            } else {
                1
            },
            f.data,
        ),
        _ => Piece::End,
    });
    if start.detach {
        // Nobody listens: drain the output so the process is never blocked on it.
        tokio::spawn(async move {
            let _keep_stdin_open = tx;
            output.for_each(|_| async {}).await;
        });
        return Ok(StatusCode::OK.into_response());
    }
    let sink = StdinSink {
        tx,
        data: |d| ExecStartRequest {
            input: Some(Input::Stdin(d)),
        },
        close: || ExecStartRequest {
            input: Some(Input::CloseStdin(CloseStdin {})),
        },
    };
    hijack::pump(
        hyper::upgrade::on(&mut req),
        info.tty,
        sink,
        info.open_stdin,
        output,
    );
    hijack::upgraded_response(info.tty)
}

/// `POST /exec/{id}/resize?h=&w=`: the terminal size of an `exec -t`.
pub async fn resize(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let size = super::lifecycle::tty_size(raw.as_deref())?;
    let mut runner = state.runner_for_exec(&id).await?;
    runner
        .exec_resize(ExecResizeRequest {
            exec_id: id,
            size: Some(size),
        })
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn inspect(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut runner = state.runner_for_exec(&id).await?;
    let e = runner
        .exec_inspect(ExecInspectRequest { exec_id: id })
        .await?
        .into_inner();
    Ok(Json(json!({
        "ID": e.id,
        "ContainerID": e.container_id,
        "Running": e.running,
        "ExitCode": e.exit_code,
        "Pid": e.pid,
        "OpenStdin": e.open_stdin,
        "OpenStdout": e.open_stdout,
        "OpenStderr": e.open_stderr,
        "CanRemove": false,
        "DetachKeys": e.detach_keys,
        "ProcessConfig": {
            "tty": e.tty,
            "entrypoint": e.cmd.first(),
            "arguments": e.cmd.iter().skip(1).collect::<Vec<_>>(),
            "privileged": e.privileged,
            "user": e.user,
        },
    })))
}
