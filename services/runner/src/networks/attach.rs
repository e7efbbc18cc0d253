//! Containers on networks: which networks a new container joins, wiring a container's
//! namespace to each of its networks when its process exists (a veth per network,
//! `eth0`, `eth1`… in joining order, the default route via the first), `docker network
//! connect`/`disconnect` of a running container, and taking it all down when it stops.
//!
//! Every change to a membership ends by rewriting the container's own `/etc/hosts` and
//! those of the containers that share a name-resolving network with it (see `hosts`), so
//! names resolve as peers come and go.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::NetworkError;
use berth_network::{AttachOptions, BridgeNetwork, Endpoint, PortForward, PortSpec};
use berth_runtime::NetworkMode;
use serde::{Deserialize, Serialize};

use super::members::{Member, Members};
use super::store::{Driver, NetworkRecord};
use super::{Networks, internal, new_id};

/// A container's place on one network: what was asked for, and while its process runs,
/// the endpoint it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub network_id: String,
    /// Network-scoped aliases (`--network-alias`, compose's service names).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// A static address (`--ip`); the network's IPAM picks when `None`.
    #[serde(default)]
    pub ipv4_address: Option<Ipv4Addr>,
    #[serde(default)]
    pub endpoint_id: String,
    /// The veth and address while the container runs.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
}

/// How a container joins one network (`NetworkingConfig.EndpointsConfig`, and the body
/// of `POST /networks/{id}/connect`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointConfig {
    pub aliases: Vec<String>,
    /// Static addresses; empty means the network's IPAM picks.
    pub ipv4_address: String,
    pub ipv6_address: String,
    pub links: Vec<String>,
    pub mac_address: String,
}

/// What a new container's network mode and endpoint configs come to.
#[derive(Debug)]
pub struct Plan {
    /// The namespace the runtime gives the container.
    pub runtime: NetworkMode,
    /// `HostConfig.NetworkMode` as Docker shows it.
    pub mode: String,
    pub memberships: Vec<Membership>,
    /// Whether the container gets veths (and so can publish ports).
    pub bridged: bool,
}

impl Networks {
    /// Checks an endpoint config against its network and turns it into a membership.
    fn membership(
        &self,
        network: &NetworkRecord,
        config: Option<&EndpointConfig>,
    ) -> Result<Membership, NetworkError> {
        let config = config.cloned().unwrap_or_default();
        let user_defined = network.resolves_names();
        if !config.aliases.is_empty() && !user_defined {
            return Err(NetworkError::invalid(
                "network-scoped alias is supported only for containers in user defined networks",
            ));
        }
        for alias in &config.aliases {
            berth_network::validate_hostname(alias)
                .map_err(|e| NetworkError::invalid(e.to_string()))?;
        }
        let ipv4_address = match config.ipv4_address.as_str() {
            "" => None,
            ip if !user_defined => {
                return Err(NetworkError::invalid(format!(
                    "user specified IP address ({ip}) is supported on user defined networks only"
                )));
            }
            ip => Some(
                ip.parse()
                    .map_err(|_| NetworkError::invalid(format!("invalid IPv4 address {ip:?}")))?,
            ),
        };
        if let (Some(ip), Some(subnet)) = (ipv4_address, network.subnet())
            && !subnet.contains(ip)
        {
            return Err(NetworkError::invalid(format!(
                "invalid address {ip}: it does not belong to any of network {}'s subnets ({subnet})",
                network.name
            )));
        }
        if !config.ipv6_address.is_empty() {
            return Err(NetworkError::invalid(
                "IPv6 addresses are not supported by berth's networks yet",
            ));
        }
        Ok(Membership {
            network_id: network.id.clone(),
            aliases: config.aliases,
            ipv4_address,
            endpoint_id: String::new(),
            endpoint: None,
        })
    }

    /// The networks a new container joins: `HostConfig.NetworkMode` first, then any
    /// other network named in `NetworkingConfig.EndpointsConfig`.
    pub fn plan(
        &self,
        network_mode: &str,
        endpoints: &HashMap<String, EndpointConfig>,
    ) -> Result<Plan, NetworkError> {
        let mode = match network_mode {
            "" | "default" => "bridge",
            m => m,
        };
        if mode.starts_with("container:") {
            return Err(NetworkError::unsupported(format!(
                "network mode {mode:?} is not available yet: use bridge, host, none or a network name"
            )));
        }
        if mode == "bridge" {
            self.require_bridges()?;
        }
        let primary = self.find(mode)?;
        let mut plan = Plan {
            runtime: match primary.driver {
                Driver::Host => NetworkMode::Host,
                _ => NetworkMode::Private,
            },
            mode: mode.to_owned(),
            memberships: Vec::new(),
            bridged: primary.driver == Driver::Bridge,
        };
        if plan.bridged && primary.predefined {
            self.require_bridges()?;
        }
        let mut configs: Vec<(&String, &EndpointConfig)> = endpoints.iter().collect();
        configs.sort_by_key(|(name, _)| name.as_str());
        let primary_config = configs
            .iter()
            .position(|(name, _)| {
                // The CLI names the default network "default" when --network is not given.
                [primary.name.as_str(), primary.id.as_str(), mode, "default"]
                    .contains(&name.as_str())
            })
            .map(|i| configs.remove(i).1);
        plan.memberships
            .push(self.membership(&primary, primary_config)?);
        for (name, config) in configs {
            let network = self.find(name)?;
            if !plan.bridged || network.driver != Driver::Bridge {
                return Err(NetworkError::invalid(format!(
                    "container cannot be connected to network {} as well as {}: host and none \
                     networks stand alone",
                    network.name, primary.name
                )));
            }
            if plan.memberships.iter().any(|m| m.network_id == network.id) {
                continue;
            }
            plan.memberships
                .push(self.membership(&network, Some(config))?);
        }
        Ok(plan)
    }

    /// Allocates an address and wires one membership into the namespace of `pid`.
    async fn attach_one(
        &self,
        network: &NetworkRecord,
        membership: &mut Membership,
        pid: i32,
        options: AttachOptions,
    ) -> Result<(), NetworkError> {
        let config = network
            .bridge
            .clone()
            .ok_or_else(|| internal(format!("network {} has no bridge", network.name)))?;
        let bridge = BridgeNetwork::ensured(config).map_err(internal)?;
        let wanted = membership.ipv4_address;
        let ip = self.store.with_ipam(&network.id, |ipam| {
            match wanted {
                Some(ip) => ipam.allocate_specific(ip).map(|()| ip),
                None => ipam.allocate(),
            }
            .map_err(|e| NetworkError::state(e.to_string()))
        })?;
        let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
        match bridge.attach_with(&netns, ip, &options).await {
            Ok(endpoint) => {
                membership.endpoint = Some(endpoint);
                membership.endpoint_id = new_id();
                Ok(())
            }
            Err(e) => {
                self.store.release(&network.id, ip);
                Err(internal(format!(
                    "cannot connect to network {}: {e}",
                    network.name
                )))
            }
        }
    }

    /// Takes one membership's veth down and gives its address back.
    async fn detach_one(&self, membership: &mut Membership) {
        if let Some(endpoint) = membership.endpoint.take() {
            if let Err(e) = berth_network::detach(&endpoint).await {
                tracing::warn!(veth = %endpoint.host_ifname, error = %e, "removing a veth failed");
            }
            self.store.release(&membership.network_id, endpoint.ip);
        }
    }

    /// Wires a container whose process (`pid`) was just created to all its networks,
    /// writes its /etc/hosts and publishes its ports. On failure nothing stays attached.
    pub async fn plug(&self, c: &dyn Members, id: &str, pid: i32) -> Result<(), NetworkError> {
        let changes = self.changes.lock().await;
        let mut record = c.member(id)?;
        let mut joined = Vec::new();
        let mut wired = self.wire_all(&mut record, pid, &mut joined).await;
        if wired.is_ok() && !joined.is_empty() {
            wired = self.finish_plug(&mut record).await;
        }
        if let Err(e) = wired {
            self.stop_forwards(id).await;
            for m in &mut record.networks {
                self.detach_one(m).await;
            }
            record.ports.clear();
            let _ = c.save(&record);
            return Err(e);
        }
        c.save(&record)?;
        super::hosts::refresh_one(self, c, &record).await;
        self.refresh_hosts(c, &joined, Some(id)).await;
        drop(changes);
        for network in &joined {
            self.emit("connect", network, Some(id)).await;
        }
        Ok(())
    }

    async fn wire_all(
        &self,
        record: &mut Member,
        pid: i32,
        joined: &mut Vec<NetworkRecord>,
    ) -> Result<(), NetworkError> {
        for i in 0..record.networks.len() {
            let network = self.find(&record.networks[i].network_id)?;
            if network.driver != Driver::Bridge {
                continue;
            }
            let options = AttachOptions {
                ifname: format!("eth{}", joined.len()),
                default_route: joined.is_empty(),
            };
            self.attach_one(&network, &mut record.networks[i], pid, options)
                .await?;
            joined.push(network);
        }
        Ok(())
    }

    async fn finish_plug(&self, record: &mut Member) -> Result<(), NetworkError> {
        if let Some(primary) = primary_endpoint(&record.networks) {
            record.ports = self.publish(&record.id, &primary, &record.publish).await?;
        }
        Ok(())
    }

    /// Takes a stopped container off all its networks (idempotent).
    pub async fn unplug(&self, c: &dyn Members, id: &str) {
        let changes = self.changes.lock().await;
        let Ok(mut record) = c.member(id) else {
            return;
        };
        self.stop_forwards(id).await;
        let mut left = Vec::new();
        for m in &mut record.networks {
            if m.endpoint.is_some() {
                self.detach_one(m).await;
                if let Ok(network) = self.find(&m.network_id) {
                    left.push(network);
                }
            }
        }
        if left.is_empty() && record.ports.is_empty() {
            return;
        }
        record.ports.clear();
        if let Err(e) = c.save(&record) {
            tracing::warn!(container = id, error = %e, "saving the container's networks failed");
        }
        self.refresh_hosts(c, &left, None).await;
        drop(changes);
        for network in &left {
            self.emit("disconnect", network, Some(id)).await;
        }
    }

    /// After a runner restart: a running container's port proxies and DNAT rules start
    /// again.
    pub async fn republish(&self, id: &str, networks: &[Membership], ports: &[PortSpec]) {
        if let Some(primary) = primary_endpoint(networks)
            && let Err(e) = self.publish(id, &primary, ports).await
        {
            tracing::warn!(container = %id, error = %e, "republishing ports failed");
        }
    }

    /// `docker network connect`: a running container gets a new interface at once; a
    /// stopped one is recorded and joins when it starts.
    pub async fn connect(
        &self,
        c: &dyn Members,
        network: &str,
        container: &str,
        config: Option<&EndpointConfig>,
    ) -> Result<(), NetworkError> {
        let changes = self.changes.lock().await;
        let network = self.find(network)?;
        let mut record = c.member(container)?;
        let mode_network = self.find(&record.network_mode).ok();
        if network.driver != Driver::Bridge
            || mode_network.is_some_and(|n| n.driver != Driver::Bridge)
        {
            return Err(NetworkError::denied(
                "container sharing network namespace with another container or host cannot be \
                 connected to any other network; host and none networks stand alone",
            ));
        }
        if record.networks.iter().any(|m| m.network_id == network.id) {
            return Err(NetworkError::denied(format!(
                "endpoint with name {} already exists in network {}",
                record.name, network.name
            )));
        }
        let mut membership = self.membership(&network, config)?;
        if let Some(pid) = c.live_pid(&record.id) {
            let attached = record
                .networks
                .iter()
                .filter(|m| m.endpoint.is_some())
                .count();
            let ifname = next_ifname(&record);
            let options = AttachOptions {
                ifname,
                default_route: attached == 0,
            };
            self.attach_one(&network, &mut membership, pid, options)
                .await?;
        }
        let live = membership.endpoint.is_some();
        record.networks.push(membership);
        // A container that lost its only network kept its --publish specs: the network
        // it joins now carries them (docker-compose disconnects and reconnects every
        // container it creates).
        if live
            && record.ports.is_empty()
            && let Some(primary) = primary_endpoint(&record.networks)
        {
            match self.publish(&record.id, &primary, &record.publish).await {
                Ok(ports) => record.ports = ports,
                Err(e) => {
                    if let Some(m) = record.networks.last_mut() {
                        self.detach_one(m).await;
                    }
                    return Err(e);
                }
            }
        }
        if let Err(e) = c.save(&record) {
            if let Some(m) = record.networks.last_mut() {
                self.detach_one(m).await;
            }
            return Err(e);
        }
        if live {
            self.refresh_hosts(c, std::slice::from_ref(&network), Some(&record.id))
                .await;
            super::hosts::refresh_one(self, c, &record).await;
        }
        drop(changes);
        self.emit("connect", &network, Some(&record.id)).await;
        Ok(())
    }

    /// `docker network disconnect`.
    pub async fn disconnect(
        &self,
        c: &dyn Members,
        network: &str,
        container: &str,
    ) -> Result<(), NetworkError> {
        let changes = self.changes.lock().await;
        let network = self.find(network)?;
        let mut record = c.member(container)?;
        let Some(index) = record
            .networks
            .iter()
            .position(|m| m.network_id == network.id)
        else {
            return Err(NetworkError::denied(format!(
                "container {} is not connected to network {}",
                record.name, network.name
            )));
        };
        if network.driver != Driver::Bridge {
            return Err(NetworkError::denied(
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        let primary_ip = record
            .networks
            .iter()
            .find_map(|m| m.endpoint.as_ref())
            .map(|e| e.ip);
        let mut membership = record.networks.remove(index);
        if membership.endpoint.as_ref().map(|e| e.ip) == primary_ip && primary_ip.is_some() {
            // The proxies pointed at the address that goes away: they move to the next
            // network, on the same host ports, or wait for one to be connected.
            self.stop_forwards(&record.id).await;
            let bound = std::mem::take(&mut record.ports);
            if let Some(next) = primary_endpoint(&record.networks) {
                match self.publish(&record.id, &next, &bound).await {
                    Ok(ports) => record.ports = ports,
                    Err(e) => {
                        tracing::warn!(container = %record.id, error = %e, "moving the published ports failed");
                    }
                }
            }
        }
        self.detach_one(&mut membership).await;
        c.save(&record)?;
        self.refresh_hosts(c, std::slice::from_ref(&network), Some(&record.id))
            .await;
        super::hosts::refresh_one(self, c, &record).await;
        drop(changes);
        self.emit("disconnect", &network, Some(&record.id)).await;
        Ok(())
    }

    /// Starts the proxies and DNAT rules of `ports` for a container at its primary
    /// endpoint; returns the ports with their host port filled in.
    async fn publish(
        &self,
        id: &str,
        primary: &PrimaryEndpoint,
        ports: &[PortSpec],
    ) -> Result<Vec<PortSpec>, NetworkError> {
        if ports.is_empty() {
            return Ok(Vec::new());
        }
        let network = self.find(&primary.network_id)?;
        let bridge = network
            .bridge
            .ok_or_else(|| internal(format!("network {} has no bridge", network.name)))?;
        let mut started = Vec::new();
        for spec in ports {
            match PortForward::start_on_bridge(spec, primary.ip, &bridge).await {
                Ok(f) => started.push(f),
                Err(e) => {
                    for f in started {
                        f.stop().await;
                    }
                    return Err(NetworkError::state(e.to_string()));
                }
            }
        }
        let published = started
            .iter()
            .map(|f| {
                let mut s = *f.spec();
                s.host_port = Some(f.host_port());
                s
            })
            .collect();
        self.forwards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), started);
        Ok(published)
    }

    async fn stop_forwards(&self, id: &str) {
        let forwards = self
            .forwards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        for f in forwards.into_iter().flatten() {
            f.stop().await;
        }
    }
}

/// Where a container's published ports lead: the first network it is attached to.
struct PrimaryEndpoint {
    network_id: String,
    ip: Ipv4Addr,
}

fn primary_endpoint(networks: &[Membership]) -> Option<PrimaryEndpoint> {
    networks.iter().find_map(|m| {
        m.endpoint.as_ref().map(|e| PrimaryEndpoint {
            network_id: m.network_id.clone(),
            ip: e.ip,
        })
    })
}

/// The next free `ethN` inside a container.
fn next_ifname(record: &Member) -> String {
    let used: Vec<&str> = record
        .networks
        .iter()
        .filter_map(|m| m.endpoint.as_ref().map(|e| e.ifname.as_str()))
        .collect();
    (0..)
        .map(|n| format!("eth{n}"))
        .find(|name| !used.contains(&name.as_str()))
        .expect("some ethN is free")
}
