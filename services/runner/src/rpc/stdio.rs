//! Moving a process's stdio between a monitor [`Session`] and a gRPC stream, for attach
//! and exec alike: output frames out, stdin in (its end closes the process's stdin),
//! terminal resizes passed on.

use berth_proto::v1::StdioStream;
use berth_runtime::{Frame, Session};
use futures::{Stream, StreamExt};
use tonic::Status;

use crate::rpc::status::runtime_status;

/// What a client sends.
#[derive(Debug)]
pub enum Input {
    Stdin(Vec<u8>),
    CloseStdin,
    Resize { width: u16, height: u16 },
}

/// An attach's or an exec's input message, which prost makes two types with the same
/// variants; the header is no [`Input`].
pub trait ClientInput {
    fn into_input(self) -> Option<Input>;
}

macro_rules! client_input {
    ($($message:ident),*) => {$(
        impl ClientInput for berth_proto::v1::$message::Input {
            fn into_input(self) -> Option<Input> {
                use berth_proto::v1::$message::Input as In;
                match self {
                    In::Stdin(data) => Some(Input::Stdin(data)),
                    In::CloseStdin(_) => Some(Input::CloseStdin),
                    In::Resize(s) => Some(Input::Resize {
                        width: s.width as u16,
                        height: s.height as u16,
                    }),
                    In::Header(_) => None,
                }
            }
        }
    )*};
}
client_input!(attach_request, exec_start_request);

/// What the process produced.
#[derive(Debug)]
pub enum Output {
    Data(StdioStream, Vec<u8>),
    Exit(i32),
}

/// Connects `session` to `input`; returns the output as a stream. `stdin` says whether
/// the client may write stdin at all; `resize` applies a terminal size.
pub fn pump(
    mut session: Session,
    stdin_allowed: bool,
    input: impl Stream<Item = Input> + Send + 'static,
    resize: impl Fn(u16, u16) + Send + Sync + 'static,
) -> Result<tokio_stream::wrappers::ReceiverStream<Result<Output, Status>>, Status> {
    let mut stdin = session.stdin().map_err(runtime_status)?;

    // Output: a blocking reader of the monitor's frames.
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::task::spawn_blocking(move || {
        loop {
            let out = match session.next_frame() {
                Ok(Some(Frame::Stdout(data))) => Output::Data(StdioStream::Stdout, data),
                Ok(Some(Frame::Stderr(data))) => Output::Data(StdioStream::Stderr, data),
                Ok(Some(Frame::Exit(exit))) => {
                    let _ = tx.blocking_send(Ok(Output::Exit(exit.exit_code)));
                    return;
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.blocking_send(Err(runtime_status(e)));
                    return;
                }
            };
            if tx.blocking_send(Ok(out)).is_err() {
                return; // the client went away; the process runs on
            }
        }
    });

    // Input: one thread writes stdin in order.
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
    tokio::spawn(async move {
        let mut input = Box::pin(input);
        while let Some(message) = input.next().await {
            match message {
                Input::Stdin(data) if stdin_allowed => {
                    let _ = in_tx.send(Some(data));
                }
                Input::CloseStdin if stdin_allowed => {
                    let _ = in_tx.send(None);
                }
                Input::Resize { width, height } => resize(width, height),
                _ => {}
            }
        }
    });
    Ok(tokio_stream::wrappers::ReceiverStream::new(rx))
}
