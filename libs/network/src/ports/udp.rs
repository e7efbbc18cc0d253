//! The UDP side of the userland proxy: one flow per client address, each with its own
//! socket connected to the container so replies find their way back; a flow is dropped
//! after it has been idle (no datagram either way) for the idle timeout, as
//! docker-proxy does.
//!
//! Flows are bounded ([`ProxyOptions::udp_max_flows`](super::ProxyOptions)): past the
//! bound new clients' datagrams are dropped rather than opening unbounded sockets.
//! With an unspecified host address, replies leave from the address the kernel picks,
//! which on a multi-homed host may differ from the one the client sent to (docker-proxy
//! behaves the same).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::task::{AbortHandle, JoinSet};
use tracing::{debug, warn};

use super::ProxyOptions;

/// The largest datagram UDP can carry.
const MAX_DATAGRAM: usize = 65_535;

struct Flow {
    upstream: Arc<UdpSocket>,
    last_active: Arc<AtomicU64>,
    replies: AbortHandle,
}

/// Relays until the task is aborted.
pub(super) async fn serve(listener: UdpSocket, target: SocketAddr, options: ProxyOptions) {
    let listener = Arc::new(listener);
    let epoch = Instant::now();
    let now_ms = move || u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
    let idle_ms = u64::try_from(options.udp_idle_timeout.as_millis()).unwrap_or(u64::MAX);
    let sweep_every =
        (options.udp_idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(5));
    let mut sweep = tokio::time::interval(sweep_every);
    let mut flows: HashMap<SocketAddr, Flow> = HashMap::new();
    let mut reply_tasks = JoinSet::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            received = listener.recv_from(&mut buf) => {
                let (len, client) = match received {
                    Ok(got) => got,
                    Err(e) => {
                        debug!(%target, error = %e, "receive failed on a published UDP port");
                        continue;
                    }
                };
                if !flows.contains_key(&client) {
                    if flows.len() >= options.udp_max_flows {
                        warn!(%client, %target, "too many UDP flows on a published port; dropping a datagram");
                        continue;
                    }
                    match open_flow(&listener, client, target, &mut reply_tasks, now_ms).await {
                        Ok(flow) => { flows.insert(client, flow); }
                        Err(e) => {
                            warn!(%client, %target, error = %e, "cannot open a UDP flow to the container");
                            continue;
                        }
                    }
                }
                let flow = &flows[&client];
                flow.last_active.store(now_ms(), Ordering::Relaxed);
                if let Err(e) = flow.upstream.send(&buf[..len]).await {
                    debug!(%client, %target, error = %e, "cannot forward a datagram to the container");
                }
            }
            _ = sweep.tick() => {
                let now = now_ms();
                flows.retain(|_, flow| {
                    let alive = now.saturating_sub(flow.last_active.load(Ordering::Relaxed)) < idle_ms;
                    if !alive {
                        flow.replies.abort();
                    }
                    alive
                });
            }
            Some(_) = reply_tasks.join_next(), if !reply_tasks.is_empty() => {}
        }
    }
}

async fn open_flow(
    listener: &Arc<UdpSocket>,
    client: SocketAddr,
    target: SocketAddr,
    reply_tasks: &mut JoinSet<()>,
    now_ms: impl Fn() -> u64 + Send + 'static,
) -> io::Result<Flow> {
    let any: IpAddr = match target {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let upstream = UdpSocket::bind(SocketAddr::new(any, 0)).await?;
    upstream.connect(target).await?;
    let upstream = Arc::new(upstream);
    let last_active = Arc::new(AtomicU64::new(now_ms()));
    let replies = reply_tasks.spawn(relay_replies(
        Arc::clone(&upstream),
        Arc::clone(listener),
        client,
        Arc::clone(&last_active),
        now_ms,
    ));
    Ok(Flow {
        upstream,
        last_active,
        replies,
    })
}

async fn relay_replies(
    upstream: Arc<UdpSocket>,
    listener: Arc<UdpSocket>,
    client: SocketAddr,
    last_active: Arc<AtomicU64>,
    now_ms: impl Fn() -> u64,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match upstream.recv(&mut buf).await {
            Ok(len) => {
                last_active.store(now_ms(), Ordering::Relaxed);
                if let Err(e) = listener.send_to(&buf[..len], client).await {
                    debug!(%client, error = %e, "cannot return a datagram to the client");
                }
            }
            // Nothing listens in the container (ICMP port unreachable): later datagrams
            // may find a listener, so keep the flow.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => {
                debug!(%client, error = %e, "UDP flow ended");
                return;
            }
        }
    }
}
