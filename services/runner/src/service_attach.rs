//! `Attach`: a container's stdio over a bidirectional gRPC stream. The monitor holds the
//! stdio; this forwards output frames out and stdin, resizes and the stdin close in.

use std::sync::Arc;

use berth_proto::v1::attach_request::Input;
use berth_proto::v1::attach_response::Output;
use berth_proto::v1::*;
use berth_runtime::Frame;
use futures::StreamExt;
use tonic::{Response, Status, Streaming};

use crate::containers::{Containers, blocking, runtime_status};

type Stream<T> = tonic::codegen::BoxStream<T>;

pub async fn attach(
    c: &Arc<Containers>,
    mut input: Streaming<AttachRequest>,
) -> Result<Response<Stream<AttachResponse>>, Status> {
    let header = match input.message().await?.and_then(|m| m.input) {
        Some(Input::Header(h)) => h,
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
    let mut session = blocking(move || {
        this.runtime
            .attach(&id, h_in, h_out, h_err)
            .map_err(runtime_status)
    })
    .await?;
    let mut stdin = session.stdin().map_err(runtime_status)?;

    // Output: a blocking reader of the monitor's frames feeding the response stream.
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::task::spawn_blocking(move || {
        loop {
            let out = match session.next_frame() {
                Ok(Some(Frame::Stdout(data))) => Output::Frame(OutputFrame {
                    stream: StdioStream::Stdout as i32,
                    data,
                }),
                Ok(Some(Frame::Stderr(data))) => Output::Frame(OutputFrame {
                    stream: StdioStream::Stderr as i32,
                    data,
                }),
                Ok(Some(Frame::Exit(exit))) => {
                    let _ = tx.blocking_send(Ok(AttachResponse {
                        output: Some(Output::Exit(ProcessExit {
                            exit_code: exit.exit_code,
                        })),
                    }));
                    return;
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.blocking_send(Err(runtime_status(e)));
                    return;
                }
            };
            if tx
                .blocking_send(Ok(AttachResponse { output: Some(out) }))
                .is_err()
            {
                return; // the client went away; the container runs on
            }
        }
    });

    // Input: one thread writes stdin in order, fed by the request stream.
    let (in_tx, in_rx) = std::sync::mpsc::channel::<Option<Vec<u8>>>();
    std::thread::spawn(move || {
        while let Ok(chunk) = in_rx.recv() {
            let done = match chunk {
                Some(data) => stdin.write(&data).is_err(),
                None => {
                    let _ = stdin.close();
                    true
                }
            };
            if done {
                return;
            }
        }
    });
    let this = c.clone();
    let id = record.id.clone();
    tokio::spawn(async move {
        while let Some(Ok(message)) = input.next().await {
            match message.input {
                Some(Input::Stdin(data)) if header.stdin => {
                    let _ = in_tx.send(Some(data));
                }
                Some(Input::CloseStdin(_)) if header.stdin => {
                    let _ = in_tx.send(None);
                }
                Some(Input::Resize(size)) => {
                    let (this, id) = (this.clone(), id.clone());
                    let _ = tokio::task::spawn_blocking(move || {
                        this.runtime
                            .resize(&id, size.width as u16, size.height as u16, None)
                    })
                    .await;
                }
                _ => {}
            }
        }
    });
    Ok(Response::new(Box::pin(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    )))
}
