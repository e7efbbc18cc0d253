//! Connecting a container's network namespace to a bridge network with a veth pair, and
//! disconnecting it.
//!
//! The pair is made in one netlink request: the host end `veth<8 hex>` enslaved to the
//! bridge and up, the peer created directly inside the container's namespace under its
//! final name (`eth0`) with the MAC derived from its address. Then, inside the
//! namespace: the address, `lo` and the interface up, and the default route via the
//! gateway. If any step fails the pair is deleted again, so a failed attach leaves
//! nothing behind. It never allocates addresses (that is [`Ipam`](crate::Ipam)'s job)
//! and never touches a namespace other than the one it is given.

use std::fs::File;
use std::io::Read;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::errno::Errno;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::{LinkMessageBuilder, LinkUnspec};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::bridge::BridgeNetwork;
use crate::error::{NetworkError, Result};
use crate::ipam::Ipam;
use crate::mac::MacAddress;
use crate::netlink::{Netlink, is_errno};

/// A container's connection to a bridge network. Persist it with the container: detach
/// needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The bridge it hangs off.
    pub bridge: String,
    /// The host end of the veth pair (`veth<8 hex>`).
    pub host_ifname: String,
    /// The interface's name inside the container (`eth0`).
    pub ifname: String,
    /// The container's address.
    pub ip: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix_len: u8,
    /// The gateway (the bridge's address).
    pub gateway: Ipv4Addr,
    /// The interface's MAC inside the container.
    pub mac: MacAddress,
}

/// Choices for [`BridgeNetwork::attach_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachOptions {
    /// The interface's name inside the container: `eth0` for the first network, `eth1`
    /// for the next, as Docker names them.
    pub ifname: String,
    /// Add the default route via this network's gateway: true for the first network
    /// only; a container has one default route.
    pub default_route: bool,
}

impl Default for AttachOptions {
    fn default() -> Self {
        Self {
            ifname: "eth0".into(),
            default_route: true,
        }
    }
}

impl BridgeNetwork {
    /// Connects the network namespace at `netns` (`/proc/<pid>/ns/net` or a bind-mounted
    /// netns file) to this network as `eth0` with address `ip` (allocated by the caller
    /// from this network's [`Ipam`](crate::Ipam)) and the default route.
    pub async fn attach(&self, netns: &Path, ip: Ipv4Addr) -> Result<Endpoint> {
        self.attach_with(netns, ip, &AttachOptions::default()).await
    }

    /// [`attach`](Self::attach) with a chosen interface name and routing.
    pub async fn attach_with(
        &self,
        netns: &Path,
        ip: Ipv4Addr,
        options: &AttachOptions,
    ) -> Result<Endpoint> {
        let subnet = self.subnet();
        // The same checks as the allocator's: in the subnet, not network, gateway or
        // broadcast, whoever chose the address.
        Ipam::new(subnet, Some(self.gateway()))?.allocate_specific(ip)?;
        let host = Netlink::host()?;
        let bridge_index = host.require_index(self.name()).await?;
        let ns_file = File::open(netns).map_err(|source| NetworkError::Namespace {
            path: netns.to_path_buf(),
            source,
        })?;
        let mac = MacAddress::from_ipv4(ip);
        let host_ifname =
            create_veth_pair(&host, bridge_index, &ns_file, options, mac, self).await?;
        let endpoint = Endpoint {
            bridge: self.name().to_string(),
            host_ifname,
            ifname: options.ifname.clone(),
            ip,
            prefix_len: subnet.prefix_len(),
            gateway: self.gateway(),
            mac,
        };
        if let Err(e) = configure_inside(netns, &endpoint, options.default_route).await {
            if let Err(cleanup) = host.delete_link(&endpoint.host_ifname).await {
                warn!(veth = %endpoint.host_ifname, error = %cleanup, "cannot delete veth after failed attach");
            }
            return Err(e);
        }
        info!(bridge = %endpoint.bridge, veth = %endpoint.host_ifname, %ip, "attached container");
        Ok(endpoint)
    }

    /// Disconnects a container: deletes the veth pair. Fine to call when the pair is
    /// already gone (the kernel deletes it with the container's namespace). Release the
    /// address in the [`Ipam`](crate::Ipam) afterwards.
    pub async fn detach(&self, endpoint: &Endpoint) -> Result<()> {
        detach(endpoint).await
    }
}

/// Deletes an endpoint's veth pair; see [`BridgeNetwork::detach`].
pub async fn detach(endpoint: &Endpoint) -> Result<()> {
    let host = Netlink::host()?;
    if host.delete_link(&endpoint.host_ifname).await? {
        info!(veth = %endpoint.host_ifname, ip = %endpoint.ip, "detached container");
    }
    Ok(())
}

/// Creates the pair and returns the host end's name. Retries with another name when the
/// random one is taken.
async fn create_veth_pair(
    host: &Netlink,
    bridge_index: u32,
    ns_file: &File,
    options: &AttachOptions,
    mac: MacAddress,
    network: &BridgeNetwork,
) -> Result<String> {
    const TRIES: usize = 3;
    for attempt in 1..=TRIES {
        let host_ifname = random_veth_name()?;
        let mut peer = LinkUnspec::new_with_name(&options.ifname)
            .setns_by_fd(ns_file.as_raw_fd())
            .address(mac.octets().to_vec());
        let mut pair = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Veth)
            .name(host_ifname.clone())
            .controller(bridge_index)
            .up();
        if let Some(mtu) = network.config().mtu {
            peer = peer.mtu(mtu);
            pair = pair.mtu(mtu);
        }
        let pair = pair.set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
        match host.handle().link().add(pair.build()).execute().await {
            Ok(()) => return Ok(host_ifname),
            // Either our random name or the name inside the container is taken; only the
            // first is worth another try.
            Err(e) if is_errno(&e, Errno::EEXIST) && attempt < TRIES => {
                if host.link(&host_ifname).await?.is_none() {
                    return Err(NetworkError::netlink(
                        format!(
                            "create veth pair {host_ifname} (is there already an {} in the container?)",
                            options.ifname
                        ),
                        e,
                    ));
                }
            }
            Err(e) => {
                return Err(NetworkError::netlink(
                    format!("create veth pair {host_ifname}"),
                    e,
                ));
            }
        }
    }
    unreachable!("the last attempt returns")
}

async fn configure_inside(netns: &Path, endpoint: &Endpoint, default_route: bool) -> Result<()> {
    let inside = Netlink::inside(netns).await?;
    let lo = inside.require_index("lo").await?;
    inside.set_up(lo, "lo").await?;
    let index = inside.require_index(&endpoint.ifname).await?;
    inside
        .add_address(index, endpoint.ip, endpoint.prefix_len)
        .await?;
    inside.set_up(index, &endpoint.ifname).await?;
    if default_route {
        inside.add_default_route(index, endpoint.gateway).await?;
    }
    Ok(())
}

/// `veth` and 8 random hex digits, as Docker names them (15 characters at most, and no
/// pattern a person could mistake for a real interface).
fn random_veth_name() -> Result<String> {
    let mut bytes = [0u8; 4];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| NetworkError::File {
            action: "read",
            path: "/dev/urandom".into(),
            source,
        })?;
    Ok(format!(
        "veth{:02x}{:02x}{:02x}{:02x}",
        bytes[0], bytes[1], bytes[2], bytes[3]
    ))
}
