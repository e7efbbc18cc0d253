//! `POST /containers/{id}/attach`: the container's stdio over the hijacked HTTP
//! connection. The answer is `101 UPGRADED` (`Upgrade: tcp`); then output flows as
//! multiplexed frames (raw bytes with a TTY) and the client's bytes are stdin, its
//! half-close being stdin's end.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use berth_proto::v1::attach_request::Input;
use berth_proto::v1::attach_response::Output;
use berth_proto::v1::{
    AttachHeader, AttachRequest, CloseStdin, InspectContainerRequest, StdioStream,
};
use http::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::logs::frame;
use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn attach(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    mut req: Request<Body>,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let mut runner = state.runner_for(&id).await?;
    let tty = runner
        .inspect_container(InspectContainerRequest {
            container: id.clone(),
            size: false,
        })
        .await?
        .into_inner()
        .spec
        .is_some_and(|s| s.tty);
    let attach_stdin = q.flag("stdin")?;
    let (in_tx, in_rx) = tokio::sync::mpsc::channel::<AttachRequest>(16);
    let header = AttachHeader {
        container: id,
        stdin: attach_stdin,
        stdout: q.flag("stdout")?,
        stderr: q.flag("stderr")?,
        logs: q.flag("logs")?,
        stream: q.flag("stream")?,
        detach_keys: q.get("detachKeys").unwrap_or("").to_owned(),
    };
    let _ = in_tx
        .send(AttachRequest {
            input: Some(Input::Header(header)),
        })
        .await;
    let mut output = runner
        .attach(tokio_stream::wrappers::ReceiverStream::new(in_rx))
        .await?
        .into_inner();
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "the attach connection was not upgraded");
                return;
            }
        };
        let (mut from_client, mut to_client) = tokio::io::split(TokioIo::new(upgraded));
        let stdin = tokio::spawn(async move {
            let mut buf = vec![0u8; 32 << 10];
            loop {
                match from_client.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        if attach_stdin {
                            let _ = in_tx
                                .send(AttachRequest {
                                    input: Some(Input::CloseStdin(CloseStdin {})),
                                })
                                .await;
                        }
                        // Keep the request stream open: ending it would end the attach.
                        std::future::pending::<()>().await;
                    }
                    Ok(n) => {
                        let data = buf[..n].to_vec();
                        if in_tx
                            .send(AttachRequest {
                                input: Some(Input::Stdin(data)),
                            })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        while let Ok(Some(message)) = output.message().await {
            match message.output {
                Some(Output::Frame(f)) => {
                    let stream = if f.stream == StdioStream::Stderr as i32 {
                        2
                    } else {
                        1
                    };
                    let bytes = if tty { f.data } else { frame(stream, &f.data) };
                    if to_client.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Some(Output::Exit(_)) | None => break,
            }
        }
        let _ = to_client.shutdown().await;
        stdin.abort();
    });
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .body(Body::empty())
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}
