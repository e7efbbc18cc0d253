//! Networks and containers' network settings as the gRPC contract shows them (and the
//! gateway, in turn, as Docker's JSON).

use std::collections::HashMap;

use berth_proto::v1::{
    EndpointSettings, Ipam, IpamConfig, Network, NetworkEndpoint, NetworkSettings, PortBinding,
    PortBindingList,
};

use crate::containers::record::Record;
use crate::networks::NetworkRecord;

/// One network, with the containers attached to it.
pub fn network(n: &NetworkRecord, containers: &[Record]) -> Network {
    let members = containers.iter().filter_map(|r| {
        let m = r.networks.iter().find(|m| m.network_id == n.id)?;
        let e = m.endpoint.as_ref()?;
        Some((
            r.id.clone(),
            NetworkEndpoint {
                name: r.name.clone(),
                endpoint_id: m.endpoint_id.clone(),
                mac_address: e.mac.to_string(),
                ipv4_address: format!("{}/{}", e.ip, e.prefix_len),
                ipv6_address: String::new(),
            },
        ))
    });
    Network {
        id: n.id.clone(),
        name: n.name.clone(),
        created: Some(prost_types::Timestamp {
            seconds: n.created / 1_000_000_000,
            nanos: (n.created % 1_000_000_000) as i32,
        }),
        scope: "local".into(),
        driver: n.driver.as_str().into(),
        enable_ipv6: false,
        ipam: Some(Ipam {
            driver: "default".into(),
            config: n
                .bridge
                .iter()
                .map(|b| IpamConfig {
                    subnet: b.subnet.to_string(),
                    gateway: b.gateway().to_string(),
                    ..Default::default()
                })
                .collect(),
            options: HashMap::new(),
        }),
        internal: n.internal,
        attachable: n.attachable,
        containers: members.collect(),
        options: n.options.clone().into_iter().collect(),
        labels: n.labels.clone().into_iter().collect(),
    }
}

/// A container's `NetworkSettings`: its published ports and one entry per network,
/// keyed by network name (addresses empty while it is not running, as Docker shows).
pub fn settings(record: &Record, networks: &[NetworkRecord]) -> NetworkSettings {
    let mut ports: HashMap<String, PortBindingList> = HashMap::new();
    for p in &record.ports {
        ports
            .entry(format!("{}/{}", p.container_port, p.protocol))
            .or_default()
            .bindings
            .push(PortBinding {
                host_ip: p
                    .host_ip
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                host_port: p.host_port.unwrap_or(0).to_string(),
            });
    }
    let by_network = record.networks.iter().filter_map(|m| {
        let n = networks.iter().find(|n| n.id == m.network_id)?;
        let mut dns_names = Vec::new();
        if n.resolves_names() {
            dns_names.push(record.name.clone());
            dns_names.extend(m.aliases.iter().cloned());
            dns_names.push(record.id[..12].to_owned());
        }
        let mut settings = EndpointSettings {
            network_id: n.id.clone(),
            aliases: m.aliases.clone(),
            dns_names,
            ..Default::default()
        };
        if let Some(e) = &m.endpoint {
            settings.endpoint_id = m.endpoint_id.clone();
            settings.gateway = e.gateway.to_string();
            settings.ip_address = e.ip.to_string();
            settings.ip_prefix_len = e.prefix_len.into();
            settings.mac_address = e.mac.to_string();
        }
        Some((n.name.clone(), settings))
    });
    NetworkSettings {
        ports,
        sandbox_key: String::new(),
        networks: by_network.collect(),
    }
}
