//! `POST /containers/{id}/attach`: the container's stdio over the hijacked connection.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use berth_proto::v1::attach_request::Input;
use berth_proto::v1::attach_response::Output;
use berth_proto::v1::{
    AttachHeader, AttachRequest, CloseStdin, InspectContainerRequest, StdioStream,
};
use futures::StreamExt;
use http::Request;

use super::hijack::{self, Piece, StdinSink};
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
    let stdin = q.flag("stdin")?;
    let (tx, rx) = tokio::sync::mpsc::channel::<AttachRequest>(16);
    let header = AttachHeader {
        container: id,
        stdin,
        stdout: q.flag("stdout")?,
        stderr: q.flag("stderr")?,
        logs: q.flag("logs")?,
        stream: q.flag("stream")?,
        detach_keys: q.get("detachKeys").unwrap_or("").to_owned(),
    };
    let _ = tx
        .send(AttachRequest {
            input: Some(Input::Header(header)),
        })
        .await;
    let output = runner
        .attach(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner()
        .map(|m| match m.ok().and_then(|m| m.output) {
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
    let sink = StdinSink {
        tx,
        data: |d| AttachRequest {
            input: Some(Input::Stdin(d)),
        },
        close: || AttachRequest {
            input: Some(Input::CloseStdin(CloseStdin {})),
        },
    };
    hijack::pump(hyper::upgrade::on(&mut req), tty, sink, stdin, output);
    hijack::upgraded_response(tty)
}
