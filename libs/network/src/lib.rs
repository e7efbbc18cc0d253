//! berth's container networking on one host, for the runner: Docker's bridge networking
//! rebuilt in Rust.
//!
//! - [`BridgeNetwork::ensure`] makes a Linux bridge (default [`DEFAULT_BRIDGE_NAME`],
//!   subnet [`DEFAULT_SUBNET`], both configurable so two runners on one host don't
//!   collide) with its gateway address, turns on IP forwarding, and adds masquerade and
//!   forwarding rules in berth's own iptables chains (`BERTH-<bridge>`);
//!   [`BridgeNetwork::delete`] removes exactly that again.
//! - [`Ipam`] hands out the network's addresses; plain serde data the caller persists.
//!   [`MacAddress::from_ipv4`] gives Docker's MAC for an address.
//! - [`BridgeNetwork::attach`] connects a container's network namespace with a veth pair
//!   (`eth0` inside, `veth<8 hex>` on the bridge), [`BridgeNetwork::detach`] removes it.
//! - [`PortForward`] publishes a port (`-p`, `-P`) through a userland TCP/UDP proxy, so
//!   it answers on 127.0.0.1 and every host address, and on a bridge also through DNAT
//!   rules (`BERTH-DNAT-<bridge>`), so clients from elsewhere reach the container with
//!   their own address; stopping it closes the port and removes the rules.
//! - [`HostsFile`] and [`container_resolv_conf`] produce a container's `/etc/hosts` and
//!   `/etc/resolv.conf`; [`write_container_file`] writes them so a running container
//!   sees updates.
//! - [`SubnetPool`] picks a free subnet for a new network, skipping other networks and
//!   the host's routes ([`host_routes`]).
//! - User-defined networks are isolated from each other as Docker's are: no container
//!   reaches another bridge's containers through the host; `internal` networks reach
//!   nothing beyond their bridge.
//! - `--network none`: [`bring_up_loopback`] is all it takes. `--network host`: nothing;
//!   the container shares the host's namespace and files.
//!
//! The crate keeps no process-wide state of its own: what must survive a restart (the
//! [`BridgeConfig`], the [`Ipam`], each [`Endpoint`], the [`HostsFile`]) is returned to
//! the caller to persist. Everything that touches the kernel needs root
//! (CAP_NET_ADMIN); the tests that exercise it run as root in namespaces they create.

mod attach;
mod bridge;
mod dnat;
mod error;
mod etc_file;
mod host_guard;
mod hosts;
mod ipam;
mod loopback;
mod mac;
mod nat;
mod netlink;
mod netns;
mod pool;
mod ports;
mod resolv;
mod subnet;

pub use attach::{AttachOptions, Endpoint, detach};
pub use bridge::{
    BridgeConfig, BridgeNetwork, DEFAULT_BRIDGE_NAME, DEFAULT_SUBNET, bridges_within,
    delete_bridge_network, validate_bridge_name,
};
pub use dnat::{clear_published_ports, dnat_chain};
pub use error::{NetworkError, Result};
pub use etc_file::write_container_file;
pub use host_guard::{guard_host_ports, host_guard_chain, unguard_host_ports};
pub use hosts::{HostsEntry, HostsFile, validate_hostname};
pub use ipam::Ipam;
pub use loopback::bring_up_loopback;
pub use mac::MacAddress;
pub use nat::chain_name;
pub use netns::run_in_netns;
pub use pool::{PROC_NET_ROUTE, SubnetPool, host_routes};
pub use ports::{
    DEFAULT_TCP_IDLE_TIMEOUT, DEFAULT_TCP_MAX_CONNECTIONS, PortForward, PortSpec, Protocol,
    ProxyOptions,
};
pub use resolv::{
    DnsSettings, FALLBACK_NAMESERVERS, HOST_RESOLV_CONF, SYSTEMD_RESOLVED_CONF,
    container_resolv_conf, read_host_resolv_conf,
};
pub use subnet::Ipv4Subnet;
