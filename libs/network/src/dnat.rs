//! Kernel forwarding (DNAT) for published ports, beside the userland proxy, as Docker
//! runs its iptables port mapping beside docker-proxy: a client from another host
//! reaches the container directly, and the container sees the client's real address.
//!
//! Each bridge has one more chain, `BERTH-DNAT-<bridge>`, in `nat` (reached from
//! `PREROUTING` and `OUTPUT` for packets to the host's own addresses) and in `filter`
//! (reached first from the bridge's `BERTH-<bridge>` chain). Loopback is never DNATed
//! (`route_localnet` is off, and `OUTPUT` skips 127.0.0.0/8), and packets from the
//! bridge itself are left alone: both reach the proxy, which also keeps the host port
//! bound so nothing else can take it.
//!
//! The forward accept matches only connections the kernel DNATed to that port, and sits
//! before the isolation jump; the shared isolation lets DNATed connections pass (see
//! `nat`). So a container on another berth network reaches a published port through a
//! host address (as it did through the proxy), but never a container's address
//! directly.
//!
//! This module never touches a rule outside these chains but the jumps to them.

use std::net::{IpAddr, SocketAddrV4};

use crate::error::Result;
use crate::nat::{
    chain_exists, chain_name, ensure_chain, ensure_rule, iptables, run_ignoring_missing,
};
use crate::ports::{PortSpec, Protocol};

/// The name of a bridge's published-port chain, the same in `nat` and `filter`.
pub fn dnat_chain(bridge: &str) -> String {
    format!("BERTH-DNAT-{bridge}")
}

/// The jumps into the `nat` chain: (built-in chain, match before `-j`).
fn nat_jumps() -> [(&'static str, &'static [&'static str]); 2] {
    [
        ("PREROUTING", &["-m", "addrtype", "--dst-type", "LOCAL"]),
        (
            "OUTPUT",
            &[
                "!",
                "-d",
                "127.0.0.0/8",
                "-m",
                "addrtype",
                "--dst-type",
                "LOCAL",
            ],
        ),
    ]
}

/// Makes the bridge's published-port chains and the jumps to them; running it again
/// adds nothing twice. Call it after the bridge's own `filter` chain is complete, so
/// the jump lands first in it.
pub(crate) async fn install(bridge: &str) -> Result<()> {
    let chain = dnat_chain(bridge);
    ensure_chain("nat", &chain).await?;
    for (builtin, matches) in nat_jumps() {
        let mut rule = matches.to_vec();
        rule.extend(["-j", &chain]);
        ensure_rule("nat", builtin, &rule, true).await?;
    }
    ensure_chain("filter", &chain).await?;
    ensure_rule("filter", &chain_name(bridge), &["-j", &chain], true).await
}

/// Removes the jumps and the chains; fine when they are gone. Call it after the
/// bridge's own chains are gone (the `filter` one jumps here).
pub(crate) async fn remove(bridge: &str) -> Result<()> {
    let chain = dnat_chain(bridge);
    for (builtin, matches) in nat_jumps() {
        let mut args = vec!["-t", "nat", "-D", builtin];
        args.extend(matches);
        args.extend(["-j", &chain]);
        run_ignoring_missing(&args).await?;
    }
    for table in ["nat", "filter"] {
        if chain_exists(table, &chain).await? {
            iptables(&["-t", table, "-F", &chain]).await?;
            iptables(&["-t", table, "-X", &chain]).await?;
        }
    }
    Ok(())
}

/// Empties the bridge's published-port chains: at a runner's start, before it
/// publishes its running containers' ports again, so rules a killed runner left for
/// containers that are gone since do not stay.
pub async fn clear_published_ports(bridge: &str) -> Result<()> {
    let chain = dnat_chain(bridge);
    for table in ["nat", "filter"] {
        if chain_exists(table, &chain).await? {
            iptables(&["-t", table, "-F", &chain]).await?;
        }
    }
    Ok(())
}

/// One published port's pair of rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortRules {
    bridge: String,
    protocol: Protocol,
    /// `None` for every host address.
    host_ip: Option<String>,
    host_port: u16,
    target: SocketAddrV4,
}

impl PortRules {
    /// The rules for `spec` bound at `host_port`, or `None` where Docker's would never
    /// match: loopback and IPv6 host addresses are served by the proxy alone.
    pub(crate) fn new(
        bridge: &str,
        spec: &PortSpec,
        host_port: u16,
        target: SocketAddrV4,
    ) -> Option<Self> {
        let host_ip = match spec.host_ip {
            None => None,
            Some(IpAddr::V4(ip)) if ip.is_unspecified() => None,
            Some(IpAddr::V4(ip)) if ip.is_loopback() => return None,
            Some(IpAddr::V4(ip)) => Some(format!("{ip}/32")),
            Some(IpAddr::V6(_)) => return None,
        };
        Some(Self {
            bridge: bridge.to_owned(),
            protocol: spec.protocol,
            host_ip,
            host_port,
            target,
        })
    }

    fn nat_rule(&self) -> Vec<String> {
        let mut rule = vec!["!".into(), "-i".into(), self.bridge.clone()];
        rule.extend(["-p".into(), self.protocol.to_string()]);
        if let Some(ip) = &self.host_ip {
            rule.extend(["-d".into(), ip.clone()]);
        }
        rule.extend(["--dport".into(), self.host_port.to_string()]);
        rule.extend(["-j".into(), "DNAT".into()]);
        rule.extend(["--to-destination".into(), self.target.to_string()]);
        rule
    }

    fn filter_rule(&self) -> Vec<String> {
        vec![
            "-d".into(),
            format!("{}/32", self.target.ip()),
            "!".into(),
            "-i".into(),
            self.bridge.clone(),
            "-o".into(),
            self.bridge.clone(),
            "-p".into(),
            self.protocol.to_string(),
            "--dport".into(),
            self.target.port().to_string(),
            "-m".into(),
            "conntrack".into(),
            "--ctstate".into(),
            "DNAT".into(),
            // Each port its own accept, so unpublishing one of two host ports that lead
            // to the same container port leaves the other working.
            "--ctorigdstport".into(),
            self.host_port.to_string(),
            "-j".into(),
            "ACCEPT".into(),
        ]
    }

    /// Adds both rules (the accept first, so a DNATed packet is never dropped between
    /// the two); running it again adds nothing twice.
    pub(crate) async fn add(&self) -> Result<()> {
        let chain = dnat_chain(&self.bridge);
        let filter = self.filter_rule();
        let filter: Vec<&str> = filter.iter().map(String::as_str).collect();
        ensure_rule("filter", &chain, &filter, false).await?;
        let nat = self.nat_rule();
        let nat: Vec<&str> = nat.iter().map(String::as_str).collect();
        ensure_rule("nat", &chain, &nat, false).await
    }

    /// Deletes both rules; fine when they (or the chains) are gone.
    pub(crate) async fn remove(&self) -> Result<()> {
        let chain = dnat_chain(&self.bridge);
        for (table, rule) in [("nat", self.nat_rule()), ("filter", self.filter_rule())] {
            let mut args = vec!["-t", table, "-D", chain.as_str()];
            args.extend(rule.iter().map(String::as_str));
            run_ignoring_missing(&args).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn spec(host_ip: Option<&str>, protocol: Protocol) -> PortSpec {
        PortSpec {
            host_ip: host_ip.map(|ip| ip.parse().unwrap()),
            host_port: Some(8080),
            container_port: 80,
            protocol,
        }
    }

    fn target() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, 2), 80)
    }

    #[test]
    fn loopback_and_ipv6_host_addresses_stay_with_the_proxy() {
        for ip in ["127.0.0.1", "127.0.0.53", "::1", "::"] {
            let rules = PortRules::new("br0", &spec(Some(ip), Protocol::Tcp), 8080, target());
            assert_eq!(rules, None, "{ip}");
        }
    }

    #[test]
    fn every_address_has_no_destination_match() {
        for ip in [None, Some("0.0.0.0")] {
            let rules = PortRules::new("br0", &spec(ip, Protocol::Udp), 8080, target()).unwrap();
            assert_eq!(
                rules.nat_rule().join(" "),
                "! -i br0 -p udp --dport 8080 -j DNAT --to-destination 10.1.0.2:80"
            );
        }
    }

    #[test]
    fn one_host_address_is_matched_and_the_accept_is_the_ports_own() {
        let rules = PortRules::new(
            "br0",
            &spec(Some("192.0.2.7"), Protocol::Tcp),
            8080,
            target(),
        )
        .unwrap();
        assert_eq!(
            rules.nat_rule().join(" "),
            "! -i br0 -p tcp -d 192.0.2.7/32 --dport 8080 -j DNAT --to-destination 10.1.0.2:80"
        );
        assert_eq!(
            rules.filter_rule().join(" "),
            "-d 10.1.0.2/32 ! -i br0 -o br0 -p tcp --dport 80 -m conntrack --ctstate DNAT \
             --ctorigdstport 8080 -j ACCEPT"
        );
    }
}
