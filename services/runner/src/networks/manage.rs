//! `docker network create`, `rm` and `prune`: the network verbs that do not involve a
//! particular container.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::NetworkError;
use crate::error::{Classified as _, ErrorKind};
use berth_network::{BridgeConfig, BridgeNetwork, Ipam, Ipv4Subnet};

use super::members::Members;
use super::store::{Driver, NetworkRecord};
use super::{Networks, new_id};

/// What `docker network create` asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkSpec {
    pub name: String,
    /// "bridge" (or empty), or a driver berth refuses by name.
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: bool,
    pub ipam: Option<IpamSpec>,
    pub options: std::collections::HashMap<String, String>,
    pub labels: std::collections::HashMap<String, String>,
    /// An ID chosen by the caller (a gateway that creates one network on every runner);
    /// empty for a new one.
    pub id: String,
}

/// `IPAM` of a network create.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpamSpec {
    pub driver: String,
    pub config: Vec<IpamConfig>,
    pub options: std::collections::HashMap<String, String>,
}

/// One `IPAM.Config` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpamConfig {
    pub subnet: String,
    pub ip_range: String,
    pub gateway: String,
    pub aux_addresses: std::collections::HashMap<String, String>,
}

const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";
const MASQUERADE_OPTION: &str = "com.docker.network.bridge.enable_ip_masquerade";
const MTU_OPTION: &str = "com.docker.network.driver.mtu";

/// Docker's rule for network names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn valid_network_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn invalid(message: impl Into<String>) -> NetworkError {
    NetworkError::invalid(message)
}

/// The subnet and gateway asked for in `IPAM.Config`, checked.
fn requested_addresses(
    r: &NetworkSpec,
) -> Result<(Option<Ipv4Subnet>, Option<Ipv4Addr>), NetworkError> {
    let ipam = r.ipam.clone().unwrap_or_default();
    if !matches!(ipam.driver.as_str(), "" | "default") {
        return Err(invalid(format!(
            "IPAM driver {:?} is not available: berth has only the default one",
            ipam.driver
        )));
    }
    let mut configs = ipam.config.iter();
    let (Some(config), None) = (configs.next(), configs.next()) else {
        return if ipam.config.is_empty() {
            Ok((None, None))
        } else {
            Err(invalid(
                "berth's networks take one IPv4 subnet: pass --subnet once",
            ))
        };
    };
    if config.subnet.contains(':') || config.gateway.contains(':') {
        return Err(invalid(
            "IPv6 subnets are not supported by berth's networks yet; use an IPv4 --subnet",
        ));
    }
    if !config.ip_range.is_empty() || !config.aux_addresses.is_empty() {
        return Err(invalid(
            "--ip-range and --aux-address are not supported by berth yet; use --subnet and --gateway",
        ));
    }
    let subnet = match config.subnet.as_str() {
        "" => None,
        s => Some(
            s.parse::<Ipv4Subnet>()
                .map_err(|e| invalid(e.to_string()))?,
        ),
    };
    let gateway = match config.gateway.as_str() {
        "" => None,
        g => Some(
            g.parse::<Ipv4Addr>()
                .map_err(|_| invalid(format!("invalid gateway address {g:?}")))?,
        ),
    };
    if gateway.is_some() && subnet.is_none() {
        return Err(invalid("--gateway needs --subnet"));
    }
    Ok((subnet, gateway))
}

/// The bridge driver's options berth understands; the rest are kept and shown, as
/// Docker keeps options its driver ignores.
fn apply_options(
    config: &mut BridgeConfig,
    options: &BTreeMap<String, String>,
) -> Result<(), NetworkError> {
    if let Some(name) = options.get(BRIDGE_NAME_OPTION) {
        berth_network::validate_bridge_name(name).map_err(|e| invalid(e.to_string()))?;
        config.name = name.clone();
    }
    if let Some(on) = options.get(MASQUERADE_OPTION) {
        config.masquerade = on
            .parse()
            .map_err(|_| invalid(format!("{MASQUERADE_OPTION} must be true or false")))?;
    }
    if let Some(mtu) = options.get(MTU_OPTION) {
        let mtu: u32 = mtu
            .parse()
            .map_err(|_| invalid(format!("{MTU_OPTION} must be a number")))?;
        config.mtu = (mtu != 0).then_some(mtu);
    }
    Ok(())
}

impl Networks {
    /// Creates a bridge network; returns it.
    pub async fn create(&self, r: NetworkSpec) -> Result<NetworkRecord, NetworkError> {
        if !valid_network_name(&r.name) {
            return Err(invalid(format!(
                "invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                r.name
            )));
        }
        match r.driver.as_str() {
            "" | "bridge" => {}
            "host" | "null" => {
                return Err(NetworkError::denied(format!(
                    "only one instance of \"{}\" network is allowed",
                    r.driver
                )));
            }
            other => {
                return Err(invalid(format!(
                    "network driver {other:?} is not available: berth has the bridge driver"
                )));
            }
        }
        if r.enable_ipv6 {
            return Err(invalid(
                "IPv6 networks are not supported by berth yet; create the network without --ipv6",
            ));
        }
        self.require_bridges()?;
        let (subnet, gateway) = requested_addresses(&r)?;
        let options: BTreeMap<String, String> = r.options.clone().into_iter().collect();
        let id = match r.id.as_str() {
            "" => new_id(),
            id if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
                id.to_ascii_lowercase()
            }
            id => return Err(invalid(format!("invalid network ID {id:?}"))),
        };

        let _changes = self.changes.lock().await;
        let existing = self.store.all()?;
        if existing.iter().any(|n| n.name == r.name) {
            return Err(NetworkError::conflict(format!(
                "network with name {} already exists",
                r.name
            )));
        }
        if existing.iter().any(|n| n.id == id) {
            return Err(NetworkError::conflict(format!(
                "network with ID {id} already exists"
            )));
        }
        let subnet = self.choose_subnet(subnet, &existing)?;
        let mut config = BridgeConfig::new(format!("br-{}", &id[..12]), subnet);
        config.gateway = gateway;
        config.internal = r.internal;
        apply_options(&mut config, &options)?;
        if existing
            .iter()
            .any(|n| n.bridge.as_ref().is_some_and(|b| b.name == config.name))
        {
            return Err(NetworkError::conflict(format!(
                "bridge {} is already used by another network",
                config.name
            )));
        }
        config.validate().map_err(|e| invalid(e.to_string()))?;
        let ipam = Ipam::new(subnet, gateway).map_err(|e| invalid(e.to_string()))?;
        if let Err(e) = BridgeNetwork::ensure(config.clone()).await {
            // Whatever half of it was made goes again.
            let _ = berth_network::delete_bridge_network(&config.name).await;
            return Err(NetworkError::internal(format!(
                "cannot create network {}: {e}",
                r.name
            )));
        }
        let record = NetworkRecord {
            id,
            name: r.name.clone(),
            created: crate::now_nanos(),
            driver: Driver::Bridge,
            predefined: false,
            internal: r.internal,
            attachable: r.attachable,
            labels: r.labels.into_iter().collect(),
            options,
            bridge: Some(config),
            ipam: Some(ipam),
        };
        if let Err(e) = self.store.put(&record) {
            let _ = berth_network::delete_bridge_network(&record.bridge_name()).await;
            return Err(e.into());
        }
        drop(_changes);
        self.emit("create", &record, None).await;
        Ok(record)
    }

    /// The subnet asked for, if it overlaps nothing, or a free one from the pool.
    fn choose_subnet(
        &self,
        requested: Option<Ipv4Subnet>,
        existing: &[NetworkRecord],
    ) -> Result<Ipv4Subnet, NetworkError> {
        let routes = berth_network::host_routes().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the host's routes");
            Vec::new()
        });
        let Some(subnet) = requested else {
            let mut taken: Vec<Ipv4Subnet> = existing.iter().filter_map(|n| n.subnet()).collect();
            taken.extend(routes);
            return self
                .pool
                .pick(&taken)
                .map_err(|e| NetworkError::state(e.to_string()));
        };
        if let Some(other) = existing
            .iter()
            .find(|n| n.subnet().is_some_and(|s| s.overlaps(&subnet)))
        {
            return Err(NetworkError::state(format!(
                "invalid pool request: Pool overlaps with other one on this address space: \
                 {subnet} overlaps network {} ({}); choose another --subnet",
                other.name,
                other.subnet().map(|s| s.to_string()).unwrap_or_default()
            )));
        }
        if let Some(route) = routes.iter().find(|r| r.overlaps(&subnet)) {
            return Err(NetworkError::state(format!(
                "invalid pool request: {subnet} overlaps the route to {route} that this host \
                 already has; choose another --subnet"
            )));
        }
        Ok(subnet)
    }

    /// Removes a network no running container uses; stopped containers forget it.
    pub async fn remove(&self, containers: &dyn Members, text: &str) -> Result<(), NetworkError> {
        let _changes = self.changes.lock().await;
        let network = self.find(text)?;
        if network.predefined {
            return Err(NetworkError::denied(format!(
                "{} is a pre-defined network and cannot be removed",
                network.name
            )));
        }
        let records = containers.members()?;
        let active: Vec<String> = records
            .iter()
            .filter(|r| {
                r.networks
                    .iter()
                    .any(|m| m.network_id == network.id && m.endpoint.is_some())
            })
            .map(|r| format!("name:{:?} id:{:?}", r.name, &r.id[..12]))
            .collect();
        if !active.is_empty() {
            return Err(NetworkError::state(format!(
                "error while removing network: network {} has active endpoints ({}); stop or \
                 disconnect those containers first",
                network.name,
                active.join(", ")
            )));
        }
        for mut record in records {
            let before = record.networks.len();
            record.networks.retain(|m| m.network_id != network.id);
            if record.networks.len() != before {
                containers.save(&record)?;
            }
        }
        berth_network::delete_bridge_network(&network.bridge_name())
            .await
            .map_err(super::internal)?;
        self.store.remove(&network.id)?;
        drop(_changes);
        self.emit("destroy", &network, None).await;
        Ok(())
    }

    /// Removes every user-defined network no running container uses and that the
    /// filters (`until`, `label`, `label!`) select; returns their names.
    pub async fn prune(
        &self,
        containers: &dyn Members,
        filters: &std::collections::HashMap<String, Vec<String>>,
    ) -> Result<Vec<String>, NetworkError> {
        let selected = PruneFilter::parse(filters)?;
        let records = containers.members()?;
        let mut removed = Vec::new();
        for network in self.store.all()? {
            let in_use = records.iter().any(|r| {
                r.networks
                    .iter()
                    .any(|m| m.network_id == network.id && m.endpoint.is_some())
            });
            if network.predefined || in_use || !selected.accepts(&network) {
                continue;
            }
            match self.remove(containers, &network.id).await {
                Ok(()) => removed.push(network.name),
                // A container joined in between: it is in use after all.
                Err(e) if e.kind() == ErrorKind::State => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }
}

impl NetworkRecord {
    fn bridge_name(&self) -> String {
        self.bridge
            .as_ref()
            .map(|b| b.name.clone())
            .unwrap_or_default()
    }
}

/// `docker network prune --filter`.
struct PruneFilter {
    until: Option<i64>,
    labels: Vec<String>,
    not_labels: Vec<String>,
}

impl PruneFilter {
    fn parse(
        filters: &std::collections::HashMap<String, Vec<String>>,
    ) -> Result<Self, NetworkError> {
        let mut out = PruneFilter {
            until: None,
            labels: Vec::new(),
            not_labels: Vec::new(),
        };
        for (name, values) in filters {
            match name.as_str() {
                "until" => {
                    for v in values {
                        out.until = Some(
                            berth_filters::timestamp_nanos(v, crate::now_nanos())
                                .map_err(|e| invalid(e.to_string()))?,
                        );
                    }
                }
                "label" => out.labels.extend(values.iter().cloned()),
                "label!" => out.not_labels.extend(values.iter().cloned()),
                other => return Err(invalid(format!("invalid filter '{other}'"))),
            }
        }
        Ok(out)
    }

    fn accepts(&self, n: &NetworkRecord) -> bool {
        let has = |label: &String| berth_filters::label_matches(&n.labels, label);
        self.until.is_none_or(|until| n.created < until)
            && self.labels.iter().all(has)
            && !self.not_labels.iter().any(has)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_names_follow_docker() {
        assert!(valid_network_name("a"));
        assert!(valid_network_name("my_net-1.x"));
        assert!(!valid_network_name(""));
        assert!(!valid_network_name("-x"));
        assert!(!valid_network_name("a b"));
    }
}
