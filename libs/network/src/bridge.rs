//! Bridge networks: the Linux bridge with the gateway address, IP forwarding, and the
//! NAT rules; creating them (idempotently) and deleting them with everything they added.
//!
//! Bridge name and subnet come from the caller, so two runners on one host can use
//! networks that don't collide. This module keeps no state of its own: what must survive
//! a restart (the config, the [`Ipam`], the endpoints) is the caller's to persist.
//! It never deletes a link it cannot tell is a bridge, and never changes the address of
//! an existing bridge: a mismatch is an error for a person to resolve.

use std::net::Ipv4Addr;

use nix::errno::Errno;
use rtnetlink::LinkBridge;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::error::{NetworkError, Result};
use crate::ipam::Ipam;
use crate::mac::MacAddress;
use crate::nat;
use crate::netlink::{Netlink, is_bridge, is_errno, is_veth, link_name};
use crate::subnet::Ipv4Subnet;

/// The bridge of the default network, as `docker0` is Docker's.
pub const DEFAULT_BRIDGE_NAME: &str = "berth0";

/// The default network's subnet: inside 172.16/12 like Docker's, but not 172.17/16, so
/// berth and Docker can run on one host.
pub const DEFAULT_SUBNET: (Ipv4Addr, u8) = (Ipv4Addr::new(172, 30, 0, 0), 16);

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// How a bridge network is set up. Persist it with the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeConfig {
    /// The Linux bridge's name: 1 to 15 characters of letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// The network's subnet.
    pub subnet: Ipv4Subnet,
    /// The bridge's address; the subnet's first host address when `None`.
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    /// The MTU of the bridge and the containers' interfaces; the kernel's default
    /// (1500) when `None`.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// Masquerade traffic from containers to anywhere but the bridge itself (Docker's
    /// `com.docker.network.bridge.enable_ip_masquerade`, on by default).
    #[serde(default = "enabled")]
    pub masquerade: bool,
    /// No traffic between the bridge and anything but itself (`docker network create
    /// --internal`): containers reach each other and nothing else.
    #[serde(default)]
    pub internal: bool,
}

fn enabled() -> bool {
    true
}

impl Default for BridgeConfig {
    fn default() -> Self {
        let (network, prefix) = DEFAULT_SUBNET;
        let subnet = Ipv4Subnet::new(network, prefix).expect("the default subnet is valid");
        Self::new(DEFAULT_BRIDGE_NAME, subnet)
    }
}

impl BridgeConfig {
    /// A config with the given bridge name and subnet and defaults for the rest.
    pub fn new(name: impl Into<String>, subnet: Ipv4Subnet) -> Self {
        Self {
            name: name.into(),
            subnet,
            gateway: None,
            mtu: None,
            masquerade: true,
            internal: false,
        }
    }

    /// The gateway address: configured, or the subnet's first host address.
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway.unwrap_or_else(|| self.subnet.first_host())
    }

    /// Checks the name and the gateway.
    pub fn validate(&self) -> Result<()> {
        validate_bridge_name(&self.name)?;
        Ipam::new(self.subnet, Some(self.gateway()))?;
        Ok(())
    }
}

/// Checks a bridge name against what Linux (IFNAMSIZ) and iptables chain names accept.
pub fn validate_bridge_name(name: &str) -> Result<()> {
    let invalid = |reason| NetworkError::InvalidBridgeName {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() || name.len() > 15 {
        return Err(invalid("it must be 1 to 15 characters long"));
    }
    if name == "." || name == ".." {
        return Err(invalid("it cannot be `.` or `..`"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(invalid("use letters, digits, '-', '_' and '.' only"));
    }
    Ok(())
}

/// A bridge network that exists on this host.
#[derive(Debug, Clone)]
pub struct BridgeNetwork {
    config: BridgeConfig,
}

impl BridgeNetwork {
    /// Makes sure the bridge, its gateway address, IP forwarding and the NAT rules are in
    /// place, creating what is missing. Safe to call at every runner start.
    pub async fn ensure(config: BridgeConfig) -> Result<Self> {
        config.validate()?;
        let nl = Netlink::host()?;
        let name = config.name.as_str();
        let gateway = config.gateway();
        let link = match nl.link(name).await? {
            Some(link) => link,
            None => {
                create_bridge(&nl, &config).await?;
                nl.link(name)
                    .await?
                    .ok_or_else(|| NetworkError::LinkMissing { name: name.into() })?
            }
        };
        if !is_bridge(&link) {
            return Err(NetworkError::NotABridge { name: name.into() });
        }
        let index = link.header.index;
        let prefix_len = config.subnet.prefix_len();
        let addresses = nl.ipv4_addresses(index).await?;
        if !addresses.contains(&(gateway, prefix_len)) {
            if let Some((ip, prefix)) = addresses.first() {
                return Err(NetworkError::BridgeAddressMismatch {
                    bridge: name.into(),
                    found: format!("{ip}/{prefix}"),
                    wanted: format!("{gateway}/{prefix_len}"),
                });
            }
            match nl.add_address(index, gateway, prefix_len).await {
                // A concurrent `ensure` added it first.
                Err(NetworkError::Netlink { source, .. }) if is_errno(&source, Errno::EEXIST) => {}
                other => other?,
            }
        }
        nl.set_up(index, name).await?;
        enable_ip_forwarding()?;
        nat::install(
            name,
            config.subnet,
            config.masquerade && !config.internal,
            config.internal,
        )
        .await?;
        Ok(Self { config })
    }

    /// A handle on a network this process already [`ensure`](Self::ensure)d, without
    /// touching the kernel again: attaching to it fails with
    /// [`NetworkError::LinkMissing`] if its bridge has gone since.
    pub fn ensured(config: BridgeConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The network's configuration.
    pub fn config(&self) -> &BridgeConfig {
        &self.config
    }

    /// The bridge's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The network's subnet.
    pub fn subnet(&self) -> Ipv4Subnet {
        self.config.subnet
    }

    /// The bridge's own address, the containers' default gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        self.config.gateway()
    }

    /// A fresh, empty address allocator for this network.
    pub fn new_ipam(&self) -> Ipam {
        Ipam::new(self.config.subnet, Some(self.gateway()))
            .expect("the config was validated by ensure")
    }

    /// Deletes the network: its firewall rules, the veths still on the bridge, and the
    /// bridge. Detach containers first, so their IPAM state and endpoints stay right.
    pub async fn delete(self) -> Result<()> {
        delete_bridge_network(&self.config.name).await
    }
}

/// Deletes the firewall rules berth added for the bridge `name`, the veths still on it
/// (berth's containers' host ends; other kinds of port are left alone), then the bridge;
/// fine to call when any of it is already gone.
pub async fn delete_bridge_network(name: &str) -> Result<()> {
    validate_bridge_name(name)?;
    nat::remove(name).await?;
    let nl = Netlink::host()?;
    if let Some(link) = nl.link(name).await? {
        if !is_bridge(&link) {
            return Err(NetworkError::NotABridge { name: name.into() });
        }
        // Deleting a bridge only frees its ports; the veths would stay, half-connected.
        for port in nl.ports_of(link.header.index).await? {
            if let (true, Some(port_name)) = (is_veth(&port), link_name(&port)) {
                nl.delete_link(port_name).await?;
            }
        }
        nl.delete_link(name).await?;
        info!(bridge = name, "deleted bridge network");
    }
    Ok(())
}

/// The bridges that carry an IPv4 address inside `within`: what a runner with that
/// address range made, for tooling (and tests) that clean up after it.
pub async fn bridges_within(within: Ipv4Subnet) -> Result<Vec<String>> {
    let nl = Netlink::host()?;
    let mut found = Vec::new();
    for link in nl.links().await? {
        let (true, Some(name)) = (is_bridge(&link), link_name(&link)) else {
            continue;
        };
        let addresses = nl.ipv4_addresses(link.header.index).await?;
        if addresses.iter().any(|(ip, _)| within.contains(*ip)) {
            found.push(name.to_string());
        }
    }
    Ok(found)
}

async fn create_bridge(nl: &Netlink, config: &BridgeConfig) -> Result<()> {
    // A fixed MAC: otherwise the bridge takes the lowest MAC of its ports, which changes
    // as containers come and go and makes peers' ARP entries for the gateway go stale.
    let mac = MacAddress::from_ipv4(config.gateway());
    let mut builder = LinkBridge::new(&config.name).address(mac.octets().to_vec());
    if let Some(mtu) = config.mtu {
        builder = builder.mtu(mtu);
    }
    match nl.handle().link().add(builder.build()).execute().await {
        Ok(()) => {
            info!(bridge = %config.name, subnet = %config.subnet, "created bridge");
            Ok(())
        }
        Err(e) if is_errno(&e, Errno::EEXIST) => Ok(()),
        Err(e) => Err(NetworkError::netlink(
            format!("create bridge {}", config.name),
            e,
        )),
    }
}

/// Containers reach the outside through the host's routing: forwarding must be on. It is
/// a host-wide setting and is never turned back off: other networks may rely on it.
fn enable_ip_forwarding() -> Result<()> {
    let sysctl_error = |source| NetworkError::Sysctl {
        path: IP_FORWARD.into(),
        source,
    };
    let current = std::fs::read_to_string(IP_FORWARD).map_err(sysctl_error)?;
    if current.trim() != "1" {
        std::fs::write(IP_FORWARD, "1\n").map_err(sysctl_error)?;
        info!("enabled IPv4 forwarding");
    }
    Ok(())
}
