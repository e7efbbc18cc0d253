//! Published ports (`-p`, `-P`) through a userland proxy, as Docker's docker-proxy does:
//! a listener on the host address that relays to `container_ip:port`; and for a
//! container on a bridge, DNAT rules beside it, as Docker's port mapping has (see
//! `dnat`).
//!
//! The proxy serves what DNAT cannot: clients on the host itself through `127.0.0.1`
//! (no `route_localnet`), and containers on the same bridge through a host address (no
//! hairpin NAT); there the container sees the proxy's address (the gateway) as the
//! client's, as with docker-proxy. It also keeps the host port bound, so no other
//! process takes it. Everything else, clients from other hosts above all, goes through
//! the kernel and keeps its own address.
//!
//! A [`PortForward`] owns its listener: dropping it stops the proxy, closing the port and
//! every connection through it. It never listens anywhere but the address in its spec
//! (UDP flows use connected client sockets, which accept datagrams only from the
//! container).

mod spec;
mod tcp;
mod udp;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tracing::info;

pub use spec::{PortSpec, Protocol};

use crate::bridge::BridgeConfig;
use crate::dnat::PortRules;
use crate::error::{NetworkError, Result};

/// Tunables of the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyOptions {
    /// How long a UDP flow lives without a datagram in either direction (docker-proxy:
    /// 90 s).
    pub udp_idle_timeout: Duration,
    /// The most UDP clients served at once per published port.
    pub udp_max_flows: usize,
    /// How long to wait for the container to accept a proxied TCP connection.
    pub tcp_connect_timeout: Duration,
    /// The most TCP connections proxied at once per published port; past it new
    /// clients are closed at once (the process as a whole is bounded too, by its
    /// open-file limit).
    pub tcp_max_connections: usize,
    /// How long a proxied TCP connection lives with no byte in either direction.
    pub tcp_idle_timeout: Duration,
}

/// Defaults of [`ProxyOptions::tcp_max_connections`] and
/// [`ProxyOptions::tcp_idle_timeout`]: room for a busy server, while one port cannot
/// take the engine's descriptors; an hour of silence, well past any request, so only
/// abandoned connections are closed.
pub const DEFAULT_TCP_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// What [`ProxyOptions::default`] gives, settable once per process (from an engine's
/// flags) so that every published port of the process gets them.
static PROCESS_DEFAULTS: std::sync::OnceLock<ProxyOptions> = std::sync::OnceLock::new();

impl ProxyOptions {
    /// Makes `options` the default of this process; only the first call counts, and it
    /// must come before the first port is published. Returns whether it counted.
    pub fn set_process_default(options: ProxyOptions) -> bool {
        PROCESS_DEFAULTS.set(options).is_ok()
    }

    /// berth's own defaults, whatever the process's are.
    pub fn builtin() -> Self {
        Self {
            udp_idle_timeout: Duration::from_secs(90),
            udp_max_flows: 1024,
            tcp_connect_timeout: Duration::from_secs(10),
            tcp_max_connections: DEFAULT_TCP_MAX_CONNECTIONS,
            tcp_idle_timeout: DEFAULT_TCP_IDLE_TIMEOUT,
        }
    }
}

impl Default for ProxyOptions {
    fn default() -> Self {
        *PROCESS_DEFAULTS.get_or_init(Self::builtin)
    }
}

/// A running published port. Dropping it (or [`stop`](Self::stop)) closes the port.
#[derive(Debug)]
pub struct PortForward {
    spec: PortSpec,
    local_addr: SocketAddr,
    target: SocketAddr,
    task: JoinHandle<()>,
    /// The DNAT rules while they are in place.
    rules: Option<PortRules>,
}

impl PortForward {
    /// Publishes `spec` for a container at `container_ip` with the process's default
    /// options.
    pub async fn start(spec: &PortSpec, container_ip: IpAddr) -> Result<Self> {
        Self::start_with(spec, container_ip, ProxyOptions::default()).await
    }

    /// Publishes `spec` for a container at `container_ip`. The host side is bound before
    /// this returns, so a taken port is an error here, and a random port is known.
    pub async fn start_with(
        spec: &PortSpec,
        container_ip: IpAddr,
        options: ProxyOptions,
    ) -> Result<Self> {
        let addr = spec.host_addr();
        let target = SocketAddr::new(container_ip, spec.container_port);
        let bind_error = |source| NetworkError::PortBind {
            addr,
            protocol: spec.protocol,
            source,
        };
        let (local_addr, task) = match spec.protocol {
            Protocol::Tcp => {
                let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
                let local = listener.local_addr().map_err(bind_error)?;
                let task = tokio::spawn(tcp::serve(listener, target, options));
                (local, task)
            }
            Protocol::Udp => {
                let socket = UdpSocket::bind(addr).await.map_err(bind_error)?;
                let local = socket.local_addr().map_err(bind_error)?;
                (local, tokio::spawn(udp::serve(socket, target, options)))
            }
        };
        info!(host = %local_addr, container = %target, protocol = %spec.protocol, "published port");
        Ok(Self {
            spec: *spec,
            local_addr,
            target,
            task,
            rules: None,
        })
    }

    /// Publishes `spec` for a container at `container_ip` on `bridge`: the proxy with
    /// the process's default options, and DNAT rules for every address but loopback
    /// (none on an internal network, which publishes nothing beyond the host). On an
    /// error nothing stays bound or added.
    pub async fn start_on_bridge(
        spec: &PortSpec,
        container_ip: Ipv4Addr,
        bridge: &BridgeConfig,
    ) -> Result<Self> {
        let mut forward = Self::start(spec, IpAddr::V4(container_ip)).await?;
        if bridge.internal {
            return Ok(forward);
        }
        let target = SocketAddrV4::new(container_ip, spec.container_port);
        let Some(rules) = PortRules::new(&bridge.name, spec, forward.host_port(), target) else {
            return Ok(forward);
        };
        if let Err(e) = rules.add().await {
            // Half of the pair may be in.
            let _ = rules.remove().await;
            forward.stop().await;
            return Err(e);
        }
        forward.rules = Some(rules);
        Ok(forward)
    }

    /// What was asked for.
    pub fn spec(&self) -> &PortSpec {
        &self.spec
    }

    /// The bound host address, with the real port when a random one was asked for:
    /// what `docker port` and the container's `NetworkSettings.Ports` show.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The host port.
    pub fn host_port(&self) -> u16 {
        self.local_addr.port()
    }

    /// Where traffic goes: the container's address and port.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Removes the DNAT rules, then stops the proxy and waits until the port is closed:
    /// in that order, so the port is never open to other hosts without its proxy.
    pub async fn stop(mut self) {
        if let Some(rules) = self.rules.take()
            && let Err(e) = rules.remove().await
        {
            tracing::warn!(error = %e, "removing a published port's DNAT rules failed");
        }
        self.task.abort();
        // Cancelled is the expected outcome; the socket is closed once this returns.
        let _ = (&mut self.task).await;
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        // The runtime drops the task (and so the socket) at its next turn.
        self.task.abort();
        // Dropped without `stop`: the rules still go, if a runtime is there to run
        // iptables (a runner that restarts clears its chains anyway).
        if let Some(rules) = self.rules.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(e) = rules.remove().await {
                    tracing::warn!(error = %e, "removing a published port's DNAT rules failed");
                }
            });
        }
    }
}
