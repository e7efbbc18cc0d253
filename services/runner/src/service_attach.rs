//! `Attach`: a container's stdio over a bidirectional gRPC stream.

use std::sync::Arc;

use berth_proto::v1::attach_request::Input as In;
use berth_proto::v1::attach_response::Output as Out;
use berth_proto::v1::*;
use futures::StreamExt;
use tonic::{Response, Status, Streaming};

use crate::containers::{Containers, blocking, runtime_status};
use crate::stdio::{Input, Output, pump};

type Stream<T> = tonic::codegen::BoxStream<T>;

pub async fn attach(
    c: &Arc<Containers>,
    mut input: Streaming<AttachRequest>,
) -> Result<Response<Stream<AttachResponse>>, Status> {
    let header = match input.message().await?.and_then(|m| m.input) {
        Some(In::Header(h)) => h,
        _ => {
            return Err(Status::invalid_argument(
                "the first Attach message must be the header",
            ));
        }
    };
    let record = c.find(&header.container)?;
    let this = c.clone();
    let id = record.id.clone();
    let (h_in, h_out, h_err) = (header.stdin, header.stdout, header.stderr);
    let session = blocking(move || {
        this.runtime
            .attach(&id, h_in, h_out, h_err)
            .map_err(runtime_status)
    })
    .await?;
    let inputs = input.filter_map(|m| {
        std::future::ready(match m.ok().and_then(|m| m.input) {
            Some(In::Stdin(data)) => Some(Input::Stdin(data)),
            Some(In::CloseStdin(_)) => Some(Input::CloseStdin),
            Some(In::Resize(s)) => Some(Input::Resize {
                width: s.width as u16,
                height: s.height as u16,
            }),
            _ => None,
        })
    });
    let (this, id) = (c.clone(), record.id.clone());
    let resize = move |w, h| {
        let _ = this.runtime.resize(&id, w, h, None);
    };
    let output = pump(session, header.stdin, inputs, resize)?.map(|o| {
        o.map(|o| AttachResponse {
            output: Some(match o {
                Output::Data(stream, data) => Out::Frame(OutputFrame {
                    stream: stream as i32,
                    data,
                }),
                Output::Exit(exit_code) => Out::Exit(ProcessExit { exit_code }),
            }),
        })
    });
    Ok(Response::new(Box::pin(output)))
}
