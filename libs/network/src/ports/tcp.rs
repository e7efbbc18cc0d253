//! The TCP side of the userland proxy: accept on the host, connect to the container,
//! copy both ways until both sides are done (half-closes are passed on).
//!
//! Every connection task belongs to the accept loop's `JoinSet`, so stopping the loop
//! (dropping the [`PortForward`](super::PortForward)) closes the listening socket and
//! every proxied connection with it, as killing docker-proxy does.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::timeout;
use tracing::{debug, warn};

/// Accepts until the task is aborted.
pub(super) async fn serve(listener: TcpListener, target: SocketAddr, connect_timeout: Duration) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, peer)) => {
                    connections.spawn(proxy(client, peer, target, connect_timeout));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(%target, error = %e, "accept failed on a published port");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn proxy(
    mut client: TcpStream,
    peer: SocketAddr,
    target: SocketAddr,
    connect_timeout: Duration,
) {
    let mut upstream = match timeout(connect_timeout, TcpStream::connect(target)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            debug!(%peer, %target, error = %e, "cannot reach the container; closing the client");
            return;
        }
        Err(_) => {
            debug!(%peer, %target, "timed out reaching the container; closing the client");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    if let Err(e) = copy_bidirectional(&mut client, &mut upstream).await {
        debug!(%peer, %target, error = %e, "proxied connection ended with an error");
    }
}
