//! The TCP side of the userland proxy: accept on the host, connect to the container,
//! copy both ways until both sides are done (half-closes are passed on).
//!
//! Every connection task belongs to the accept loop's `JoinSet`, so stopping the loop
//! (dropping the [`PortForward`](super::PortForward)) closes the listening socket and
//! every proxied connection with it, as killing docker-proxy does.
//!
//! Connections are bounded, because each costs the engine two file descriptors and
//! anyone who reaches a published port can open them: per published port
//! ([`ProxyOptions::tcp_max_connections`](super::ProxyOptions)) and for the whole
//! process (what its open-file limit leaves after a reserve for the API and the rest of
//! the engine). Past either bound a new client is closed at once rather than left in the
//! backlog. A connection with no byte either way for
//! [`ProxyOptions::tcp_idle_timeout`](super::ProxyOptions) is closed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::timeout;
use tracing::{debug, warn};

use super::ProxyOptions;

/// Descriptors never given to proxied connections: the API, gRPC, container creation
/// and logs need them whatever published ports face.
const MIN_RESERVED_FDS: u64 = 256;
/// The copy buffer per direction.
const BUFFER: usize = 8 * 1024;
/// At most one "limit reached" warning per published port in this time.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Proxied connections the whole process may hold: each takes two descriptors, and an
/// eighth of the open-file limit (at least [`MIN_RESERVED_FDS`]) stays in reserve.
fn process_budget() -> Arc<Semaphore> {
    static BUDGET: OnceLock<Arc<Semaphore>> = OnceLock::new();
    BUDGET
        .get_or_init(|| {
            let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                .map(|(soft, _)| soft)
                .unwrap_or(1024);
            let reserve = (soft / 8).max(MIN_RESERVED_FDS);
            let connections = usize::try_from(soft.saturating_sub(reserve) / 2)
                .unwrap_or(usize::MAX)
                .min(Semaphore::MAX_PERMITS);
            Arc::new(Semaphore::new(connections))
        })
        .clone()
}

/// The permits one proxied connection holds until it ends.
struct Admission {
    _port: OwnedSemaphorePermit,
    _process: OwnedSemaphorePermit,
}

/// Accepts until the task is aborted.
pub(super) async fn serve(listener: TcpListener, target: SocketAddr, options: ProxyOptions) {
    let per_port = Arc::new(Semaphore::new(
        options.tcp_max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let process = process_budget();
    let mut last_warning: Option<Instant> = None;
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, peer)) => {
                    let admitted = per_port.clone().try_acquire_owned().ok().zip(process.clone().try_acquire_owned().ok());
                    let Some((port, process)) = admitted else {
                        if last_warning.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                            last_warning = Some(Instant::now());
                            warn!(%peer, %target, per_port = options.tcp_max_connections, "too many connections through a published port; closing new ones");
                        }
                        drop(client);
                        continue;
                    };
                    let admission = Admission { _port: port, _process: process };
                    connections.spawn(proxy(client, peer, target, options, admission));
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
    client: TcpStream,
    peer: SocketAddr,
    target: SocketAddr,
    options: ProxyOptions,
    _admission: Admission,
) {
    let upstream = match timeout(options.tcp_connect_timeout, TcpStream::connect(target)).await {
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
    match relay(client, upstream, options.tcp_idle_timeout).await {
        Ok(Relayed::Done) => {}
        Ok(Relayed::Idle) => {
            debug!(%peer, %target, "closed a proxied connection idle for the idle timeout");
        }
        Err(e) => debug!(%peer, %target, error = %e, "proxied connection ended with an error"),
    }
}

enum Relayed {
    Done,
    Idle,
}

/// Copies both ways until both directions end, or until nothing moved either way for
/// `idle`.
async fn relay(client: TcpStream, upstream: TcpStream, idle: Duration) -> std::io::Result<Relayed> {
    let epoch = Instant::now();
    let last_active = AtomicU64::new(0);
    let touch = || {
        let now = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        last_active.store(now, Ordering::Relaxed);
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let both = async {
        tokio::try_join!(
            pipe(&mut client_read, &mut upstream_write, &touch),
            pipe(&mut upstream_read, &mut client_write, &touch),
        )
    };
    let watchdog = async {
        loop {
            let since = Duration::from_millis(last_active.load(Ordering::Relaxed));
            let quiet = epoch.elapsed().saturating_sub(since);
            if quiet >= idle {
                return;
            }
            tokio::time::sleep(idle - quiet).await;
        }
    };
    tokio::select! {
        copied = both => copied.map(|_| Relayed::Done),
        () = watchdog => Ok(Relayed::Idle),
    }
}

/// One direction: reads until end of stream, then passes the half-close on.
async fn pipe(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    touch: &impl Fn(),
) -> std::io::Result<()> {
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        touch();
        to.write_all(&buf[..n]).await?;
        touch();
    }
}
