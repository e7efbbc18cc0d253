//! Container networking on this host: the bridge (`berth0` by default), addresses from
//! a persisted IPAM, a veth per container, published ports through berth-network's
//! userland proxy, and the container's /etc/hosts, /etc/hostname and /etc/resolv.conf.
//!
//! Network state that must survive a runner restart (addresses, endpoints) lives in the
//! container records and the IPAM file; port proxies live in this process and are started
//! again for running containers when the runner comes back.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use berth_network::{
    BridgeConfig, BridgeNetwork, Endpoint, HostsFile, Ipam, Ipv4Subnet, PortForward, PortSpec,
};
use tonic::Status;

/// The bridge and its addresses.
#[derive(Debug)]
pub struct Networking {
    bridge: BridgeNetwork,
    ipam: tokio::sync::Mutex<Ipam>,
    ipam_path: PathBuf,
    // Held only to insert or take a container's forwards, never across an await.
    forwards: std::sync::Mutex<HashMap<String, Vec<PortForward>>>,
}

/// What a container got from the network.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Attachment {
    pub endpoint: Endpoint,
    /// The published ports, host ports resolved (a `-P` or `::80` got a real port).
    pub ports: Vec<PortSpec>,
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
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

impl Networking {
    /// Makes sure the bridge and its NAT rules exist, and loads the address book.
    pub async fn open(bridge: &str, bip: &str, state_dir: &Path) -> Result<Self, String> {
        let (gateway, subnet) = parse_bip(bip)?;
        let mut config = BridgeConfig::new(bridge, subnet);
        config.gateway = Some(gateway);
        let bridge = BridgeNetwork::ensure(config)
            .await
            .map_err(|e| e.to_string())?;
        let ipam_path = state_dir.join("ipam.json");
        let ipam = match std::fs::read(&ipam_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{}: {e}", ipam_path.display()))?,
            Err(_) => bridge.new_ipam(),
        };
        Ok(Networking {
            bridge,
            ipam: tokio::sync::Mutex::new(ipam),
            ipam_path,
            forwards: Default::default(),
        })
    }

    pub fn bridge_name(&self) -> &str {
        self.bridge.name()
    }

    fn save(&self, ipam: &Ipam) -> Result<(), Status> {
        let tmp = self.ipam_path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(ipam).map_err(internal)?).map_err(internal)?;
        std::fs::rename(&tmp, &self.ipam_path).map_err(internal)
    }

    /// Wires a created container (process `pid`, root `rootfs`) to the bridge and
    /// publishes its ports. Undone by [`Networking::disconnect`].
    pub async fn connect(
        &self,
        id: &str,
        pid: i32,
        hostname: &str,
        rootfs: &Path,
        ports: &[PortSpec],
    ) -> Result<Attachment, Status> {
        let ip = {
            let mut ipam = self.ipam.lock().await;
            let ip = ipam
                .allocate()
                .map_err(|e| Status::resource_exhausted(e.to_string()))?;
            self.save(&ipam)?;
            ip
        };
        let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let endpoint = match self.bridge.attach(&netns, ip).await {
            Ok(e) => e,
            Err(e) => {
                self.release(ip).await;
                return Err(internal(e));
            }
        };
        let mut attachment = Attachment {
            endpoint,
            ports: Vec::new(),
        };
        if let Err(e) = write_etc_files(rootfs, hostname, IpAddr::V4(ip)) {
            self.disconnect(id, &attachment).await;
            return Err(e);
        }
        match self.publish(id, ip, ports).await {
            Ok(published) => attachment.ports = published,
            Err(e) => {
                self.disconnect(id, &attachment).await;
                return Err(e);
            }
        }
        Ok(attachment)
    }

    /// Starts the proxies of `ports` for a container at `ip`; returns the ports with
    /// their host port filled in.
    pub async fn publish(
        &self,
        id: &str,
        ip: Ipv4Addr,
        ports: &[PortSpec],
    ) -> Result<Vec<PortSpec>, Status> {
        let mut started = Vec::new();
        for spec in ports {
            match PortForward::start(spec, IpAddr::V4(ip)).await {
                Ok(f) => started.push(f),
                Err(e) => {
                    for f in started {
                        f.stop().await;
                    }
                    return Err(Status::failed_precondition(e.to_string()));
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

    /// Stops the container's proxies, removes its veth and frees its address.
    pub async fn disconnect(&self, id: &str, attachment: &Attachment) {
        let forwards = self
            .forwards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        for f in forwards.into_iter().flatten() {
            f.stop().await;
        }
        if let Err(e) = self.bridge.detach(&attachment.endpoint).await {
            tracing::warn!(container = id, error = %e, "removing the container's veth failed");
        }
        self.release(attachment.endpoint.ip).await;
    }

    async fn release(&self, ip: Ipv4Addr) {
        let mut ipam = self.ipam.lock().await;
        if ipam.release(ip)
            && let Err(e) = self.save(&ipam)
        {
            tracing::warn!(error = %e, "saving the address book failed");
        }
    }
}

/// The files Docker gives every container, written into its root before it starts.
fn write_etc_files(rootfs: &Path, hostname: &str, ip: IpAddr) -> Result<(), Status> {
    let etc = rootfs.join("etc");
    std::fs::create_dir_all(&etc).map_err(internal)?;
    let mut hosts = HostsFile::new();
    hosts
        .set_own(ip, &[hostname])
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    std::fs::write(etc.join("hosts"), hosts.render()).map_err(internal)?;
    std::fs::write(etc.join("hostname"), format!("{hostname}\n")).map_err(internal)?;
    let host_resolv = berth_network::read_host_resolv_conf().unwrap_or_default();
    let resolv = berth_network::container_resolv_conf(&host_resolv, &Default::default())
        .map_err(internal)?;
    std::fs::write(etc.join("resolv.conf"), resolv).map_err(internal)?;
    Ok(())
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
