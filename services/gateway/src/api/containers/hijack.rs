//! The hijacked connection that attach and exec use: `101 UPGRADED` with
//! `Upgrade: tcp`, then output as multiplexed frames (raw bytes with a TTY) and the
//! client's bytes as stdin, its half-close being stdin's end.

use axum::body::Body;
use axum::response::Response;
use futures::{Stream, StreamExt};
use http::{StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::logs::frame;
use crate::error::ApiError;

/// One piece of output for the client.
#[derive(Debug)]
pub enum Piece {
    /// Stream 1 (stdout) or 2 (stderr), and its bytes.
    Data(u8, Vec<u8>),
    /// The process exited: the connection closes.
    End,
}

/// Where the client's stdin goes: into a request stream of the runner, as `T`s.
#[derive(Debug)]
pub struct StdinSink<T> {
    pub tx: tokio::sync::mpsc::Sender<T>,
    pub data: fn(Vec<u8>) -> T,
    pub close: fn() -> T,
}

/// The `101` answer that hands the connection over.
pub fn upgraded_response(tty: bool) -> Result<Response, ApiError> {
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

/// Once the connection is upgraded, pumps `output` to the client and the client's bytes
/// into `stdin` (when given), until the output ends.
pub fn pump<T: Send + 'static>(
    upgrade: OnUpgrade,
    tty: bool,
    stdin: StdinSink<T>,
    stdin_enabled: bool,
    output: impl Stream<Item = Piece> + Send + 'static,
) {
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "the connection was not upgraded");
                return;
            }
        };
        let (mut from_client, mut to_client) = tokio::io::split(TokioIo::new(upgraded));
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 32 << 10];
            loop {
                match from_client.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        if stdin_enabled {
                            let _ = stdin.tx.send((stdin.close)()).await;
                        }
                        // Keep the runner's request stream open: ending it would end
                        // the session, and output may still be coming.
                        std::future::pending::<()>().await;
                    }
                    Ok(n) => {
                        if stdin
                            .tx
                            .send((stdin.data)(buf[..n].to_vec()))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        let mut output = Box::pin(output);
        while let Some(piece) = output.next().await {
            match piece {
                Piece::Data(stream, data) => {
                    let bytes = if tty { data } else { frame(stream, &data) };
                    if to_client.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Piece::End => break,
            }
        }
        let _ = to_client.shutdown().await;
        reader.abort();
    });
}
