//! The networks of this host, as Docker has them: the predefined `bridge` (the runner's
//! `--bridge`/`--bip`), `host` and `none`, and user-defined bridge networks, each with its
//! own Linux bridge (`br-<12 hex of the ID>`), address book and NAT rules, isolated from
//! each other. Containers join them at create, `docker network connect` and
//! `disconnect`; containers on one user-defined network find each other by name and
//! alias through their `/etc/hosts`, which the runner rewrites as peers come and go.
//!
//! What must survive a runner restart (networks, address books, each container's
//! endpoints) is in redb; port proxies live in this process and are started again for
//! running containers. This module never forks or touches a container's processes.

mod attach;
mod error;
mod hosts;
mod manage;
mod members;
mod store;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

use berth_network::{BridgeConfig, BridgeNetwork, Ipam, Ipv4Subnet, PortForward, SubnetPool};

pub use attach::{EndpointConfig, Membership};
pub use error::NetworkError;
pub(crate) use hosts::prepare_etc_files;
pub use manage::{IpamConfig, IpamSpec, NetworkSpec};
pub use members::{Member, Members};
pub use store::{Driver, NetworkRecord, NetworkStore, StoreError};

/// How the runner's networks are set up.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The default bridge and its address (dockerd's `--bridge`, `--bip`).
    pub bridge: String,
    pub bip: String,
    /// Where user-defined networks get subnets when none is asked for.
    pub pool: SubnetPool,
}

/// The networks and the containers' port proxies.
#[derive(Debug)]
pub struct Networks {
    pub store: NetworkStore,
    pool: SubnetPool,
    /// Why bridge networking is unavailable on this host, when it is.
    bridge_unavailable: Option<String>,
    /// Serialises changes to networks and to containers' memberships, so a network
    /// cannot be removed while a container joins it.
    changes: tokio::sync::Mutex<()>,
    // Held only to insert or take a container's forwards, never across an await.
    forwards: std::sync::Mutex<HashMap<String, Vec<PortForward>>>,
    bus: Arc<dyn berth_bus::Bus>,
}

fn internal(e: impl std::fmt::Display) -> NetworkError {
    NetworkError::internal(e.to_string())
}

/// 64 hex characters like Docker's IDs.
pub(crate) fn new_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Parses dockerd's `--bip`: the bridge's own address with the subnet's prefix length.
pub fn parse_bip(bip: &str) -> Result<(Ipv4Addr, Ipv4Subnet), String> {
    let (ip, len) = bip
        .split_once('/')
        .ok_or_else(|| format!("--bip {bip:?} is not ADDRESS/PREFIX"))?;
    let ip: Ipv4Addr = ip
        .parse()
        .map_err(|_| format!("--bip {bip:?}: bad address"))?;
    let len: u32 = len
        .parse()
        .map_err(|_| format!("--bip {bip:?}: bad prefix length"))?;
    if !(8..=30).contains(&len) {
        return Err(format!(
            "--bip {bip:?}: the prefix length must be between 8 and 30"
        ));
    }
    let mask = u32::MAX << (32 - len);
    let network = Ipv4Addr::from(u32::from(ip) & mask);
    let subnet = format!("{network}/{len}")
        .parse::<Ipv4Subnet>()
        .map_err(|e| e.to_string())?;
    Ok((ip, subnet))
}

impl Networks {
    /// Opens the network table, makes the predefined networks, and makes sure every
    /// bridge (the default one and the user-defined ones) is in place. A host where
    /// bridges cannot be made still gets `host` and `none`.
    pub async fn open(
        config: &NetworkConfig,
        state_dir: &Path,
        bus: Arc<dyn berth_bus::Bus>,
    ) -> Result<Self, StoreError> {
        let store = NetworkStore::open(&state_dir.join("networks.redb"))?;
        let mut networks = Networks {
            store,
            pool: config.pool,
            bridge_unavailable: None,
            changes: Default::default(),
            forwards: Default::default(),
            bus,
        };
        for (name, driver) in [("host", Driver::Host), ("none", Driver::Null)] {
            networks.predefined(name, driver, None, None)?;
        }
        if let Err(why) = networks.default_bridge(config, state_dir).await {
            tracing::warn!(bridge = %config.bridge, error = %why, "bridge networking is unavailable");
            networks.bridge_unavailable = Some(why);
        }
        for record in networks.store.all()? {
            if let (Some(bridge), false) = (record.bridge, record.predefined)
                && let Err(e) = BridgeNetwork::ensure(bridge).await
            {
                tracing::warn!(network = %record.name, error = %e, "network's bridge cannot be set up");
            }
        }
        // Re-adoption publishes the running containers' ports again; a runner killed
        // before it could remove its rules may have left some for containers gone since.
        for record in networks.store.all()? {
            if let Some(bridge) = record.bridge
                && let Err(e) = berth_network::clear_published_ports(&bridge.name).await
            {
                tracing::warn!(network = %record.name, error = %e, "clearing old DNAT rules failed");
            }
        }
        Ok(networks)
    }

    /// Networks that change nothing on the host: `host` and `none` only, bridges
    /// unavailable. For the runner's tests, which run without root.
    #[cfg(test)]
    pub fn offline(state_dir: &Path, bus: Arc<dyn berth_bus::Bus>) -> Result<Self, StoreError> {
        let networks = Networks {
            store: NetworkStore::open(&state_dir.join("networks.redb"))?,
            pool: SubnetPool::parse("10.210.0.0/16").expect("a valid pool"),
            bridge_unavailable: Some("offline".into()),
            changes: Default::default(),
            forwards: Default::default(),
            bus,
        };
        for (name, driver) in [("host", Driver::Host), ("none", Driver::Null)] {
            networks.predefined(name, driver, None, None)?;
        }
        Ok(networks)
    }

    /// Closes every published port of this runner, proxies and DNAT rules: at shutdown.
    pub async fn unpublish_all(&self) {
        let all: Vec<PortForward> = self
            .forwards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .flat_map(|(_, forwards)| forwards)
            .collect();
        for forward in all {
            forward.stop().await;
        }
    }

    /// The `bridge` network from the flags; its address book is kept while its subnet
    /// stays the same (and taken over from the runner's older `ipam.json`).
    async fn default_bridge(&self, config: &NetworkConfig, state_dir: &Path) -> Result<(), String> {
        let (gateway, subnet) = parse_bip(&config.bip)?;
        let mut bridge = BridgeConfig::new(config.bridge.clone(), subnet);
        bridge.gateway = Some(gateway);
        let ensured = BridgeNetwork::ensure(bridge.clone())
            .await
            .map_err(|e| e.to_string())?;
        let legacy = state_dir.join("ipam.json");
        let kept = self
            .store
            .find("bridge")
            .ok()
            .flatten()
            .filter(|n| n.predefined && n.subnet() == Some(subnet))
            .and_then(|n| n.ipam)
            .or_else(|| {
                let bytes = std::fs::read(&legacy).ok()?;
                serde_json::from_slice::<Ipam>(&bytes).ok()
            })
            .filter(|ipam| ipam.subnet() == subnet && ipam.gateway() == gateway);
        let ipam = kept.unwrap_or_else(|| ensured.new_ipam());
        self.predefined("bridge", Driver::Bridge, Some(bridge), Some(ipam))
            .map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(legacy);
        Ok(())
    }

    /// Makes or updates a predefined network, keeping its ID.
    fn predefined(
        &self,
        name: &str,
        driver: Driver,
        bridge: Option<BridgeConfig>,
        ipam: Option<Ipam>,
    ) -> Result<(), StoreError> {
        let existing = self.store.find(name)?.filter(|n| n.predefined);
        let record = NetworkRecord {
            id: existing
                .as_ref()
                .map(|n| n.id.clone())
                .unwrap_or_else(new_id),
            name: name.to_owned(),
            created: existing
                .as_ref()
                .map(|n| n.created)
                .unwrap_or_else(crate::now_nanos),
            driver,
            predefined: true,
            internal: false,
            attachable: false,
            labels: Default::default(),
            options: bridge
                .as_ref()
                .map(|b| {
                    [("com.docker.network.bridge.name".to_owned(), b.name.clone())]
                        .into_iter()
                        .collect()
                })
                .unwrap_or_default(),
            bridge,
            ipam,
        };
        if existing.as_ref() != Some(&record) {
            self.store.put(&record)?;
        }
        Ok(())
    }

    /// The network called `text` (ID, name or unique ID prefix), or Docker's message.
    pub fn find(&self, text: &str) -> Result<NetworkRecord, NetworkError> {
        self.store
            .find(text)?
            .ok_or_else(|| NetworkError::not_found(format!("network {text} not found")))
    }

    /// Fails when bridge networking could not be set up on this host.
    pub fn require_bridges(&self) -> Result<(), NetworkError> {
        match &self.bridge_unavailable {
            Some(why) => Err(NetworkError::state(format!(
                "bridge networking is unavailable on this runner ({why}); use --network host or none"
            ))),
            None => Ok(()),
        }
    }

    /// Publishes a Docker network event.
    pub async fn emit(&self, action: &str, network: &NetworkRecord, container: Option<&str>) {
        use berth_bus::BusExt as _;
        use berth_bus::event::{Event, EventKind};
        let mut event = Event::now(EventKind::Network, action, &network.id)
            .with_attribute("name", network.name.clone())
            .with_attribute("type", network.driver.as_str());
        if let Some(container) = container {
            event = event.with_attribute("container", container);
        }
        if let Err(e) = self.bus.emit(&event).await {
            tracing::warn!(action, error = %e, "network event not published");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bip_names_the_gateway_and_the_subnet() {
        let (gw, subnet) = parse_bip("172.30.0.1/16").unwrap();
        assert_eq!(gw, Ipv4Addr::new(172, 30, 0, 1));
        assert_eq!(subnet.to_string(), "172.30.0.0/16");
        assert!(parse_bip("172.30.0.1").is_err());
        assert!(parse_bip("10.0.0.1/31").is_err());
    }
}
