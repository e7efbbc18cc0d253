//! `Attach`: a container's stdio over a bidirectional gRPC stream.

use std::sync::Arc;

use berth_proto::v1::attach_request::Input as In;
use berth_proto::v1::attach_response::Output as Out;
use berth_proto::v1::*;
use futures::StreamExt;
use tonic::{Response, Status, Streaming};

use crate::containers::Containers;
use crate::containers::attach::Attached;
use crate::rpc::stdio::{ClientInput, Input, Output, pump};

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
    let (h_in, h_out, h_err) = (header.stdin, header.stdout, header.stderr);
    let (id, attached) = c.attach(&header.container, h_in, h_out, h_err).await?;
    let inputs = input.filter_map(|m| {
        std::future::ready(
            m.ok()
                .and_then(|m| m.input)
                .and_then(ClientInput::into_input),
        )
    });
    let this = c.clone();
    let resize = move |w, h| this.resize_quietly(&id, w, h, None);
    let next = match attached {
        Attached::Now(session) => {
            return Ok(Response::new(responses(session, h_in, inputs, resize)?));
        }
        Attached::NextRun(next) => next,
    };
    // `docker start -a` attaches to an exited container, then starts it. The answer goes
    // out at once, since the client starts the container only once it has it.
    let output = futures::stream::once(async move {
        let session = match next.await {
            Ok(session) => session.map_err(Status::from),
            Err(_) => Err(Status::aborted(
                "the container was removed before it ran again",
            )),
        };
        match session.and_then(|s| responses(s, h_in, inputs, resize)) {
            Ok(stream) => stream,
            Err(e) => Box::pin(futures::stream::once(std::future::ready(Err(e)))),
        }
    })
    .flatten();
    Ok(Response::new(Box::pin(output)))
}

fn responses(
    session: berth_runtime::Session,
    stdin: bool,
    inputs: impl futures::Stream<Item = Input> + Send + 'static,
    resize: impl Fn(u16, u16) + Send + Sync + 'static,
) -> Result<Stream<AttachResponse>, Status> {
    let output = pump(session, stdin, inputs, resize)?.map(|o| {
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
    Ok(Box::pin(output))
}
