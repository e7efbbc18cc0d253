//! Address management for one bridge network: which container addresses are handed out.
//!
//! The allocator is plain data (serde) that the caller persists with the network, so a
//! restarted runner hands out no address twice. It never hands out the network, gateway
//! or broadcast address. Like Docker it allocates serially, continuing after the last
//! address it gave, so a just-released address is not reused at once (peers may still
//! hold it in their ARP caches); it wraps around when it reaches the end.
//!
//! It never touches the kernel: attaching the address to an interface is `attach`'s job.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::error::{NetworkError, Result};
use crate::subnet::Ipv4Subnet;

#[cfg(test)]
mod tests;

/// The address allocator of one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "IpamState", into = "IpamState")]
pub struct Ipam {
    subnet: Ipv4Subnet,
    gateway: Ipv4Addr,
    allocated: BTreeSet<Ipv4Addr>,
    last: Option<Ipv4Addr>,
}

/// What is persisted; checked on load so a hand-edited file cannot make the allocator
/// hand out an address outside its subnet.
#[derive(Serialize, Deserialize)]
struct IpamState {
    subnet: Ipv4Subnet,
    gateway: Ipv4Addr,
    #[serde(default)]
    allocated: BTreeSet<Ipv4Addr>,
    #[serde(default)]
    last: Option<Ipv4Addr>,
}

impl Ipam {
    /// An empty allocator for `subnet`; the gateway defaults to the first host address.
    pub fn new(subnet: Ipv4Subnet, gateway: Option<Ipv4Addr>) -> Result<Self> {
        let gateway = gateway.unwrap_or_else(|| subnet.first_host());
        let ipam = Self {
            subnet,
            gateway,
            allocated: BTreeSet::new(),
            last: None,
        };
        ipam.check_host_address(gateway)?;
        Ok(ipam)
    }

    /// The network's subnet.
    pub fn subnet(&self) -> Ipv4Subnet {
        self.subnet
    }

    /// The gateway address (the bridge's own).
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// The addresses handed out, lowest first.
    pub fn allocated(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.allocated.iter().copied()
    }

    /// Whether `ip` is handed out.
    pub fn is_allocated(&self, ip: Ipv4Addr) -> bool {
        self.allocated.contains(&ip)
    }

    /// Hands out the next free address.
    pub fn allocate(&mut self) -> Result<Ipv4Addr> {
        let first = u32::from(self.subnet.first_host());
        let last = u32::from(self.subnet.last_host());
        let start = match self.last {
            Some(prev) if u32::from(prev) < last => u32::from(prev) + 1,
            _ => first,
        };
        // Walk start..=last, then first..start: every host address once.
        let candidates = (start..=last).chain(first..start).map(Ipv4Addr::from);
        for ip in candidates {
            if ip != self.gateway && !self.allocated.contains(&ip) {
                self.allocated.insert(ip);
                self.last = Some(ip);
                return Ok(ip);
            }
        }
        Err(NetworkError::AddressesExhausted {
            subnet: self.subnet,
        })
    }

    /// Hands out exactly `ip` (`docker run --ip`).
    pub fn allocate_specific(&mut self, ip: Ipv4Addr) -> Result<()> {
        self.check_host_address(ip)?;
        if ip == self.gateway {
            return Err(NetworkError::AddressReserved {
                ip,
                role: "gateway",
                subnet: self.subnet,
            });
        }
        if !self.allocated.insert(ip) {
            return Err(NetworkError::AddressInUse { ip });
        }
        Ok(())
    }

    /// Gives `ip` back; returns whether it was handed out.
    pub fn release(&mut self, ip: Ipv4Addr) -> bool {
        self.allocated.remove(&ip)
    }

    fn check_host_address(&self, ip: Ipv4Addr) -> Result<()> {
        let subnet = self.subnet;
        if !subnet.contains(ip) {
            return Err(NetworkError::AddressOutsideSubnet { ip, subnet });
        }
        let role = if ip == subnet.network() {
            "network"
        } else if ip == subnet.broadcast() {
            "broadcast"
        } else {
            return Ok(());
        };
        Err(NetworkError::AddressReserved { ip, role, subnet })
    }
}

impl TryFrom<IpamState> for Ipam {
    type Error = NetworkError;

    fn try_from(state: IpamState) -> Result<Self> {
        let mut ipam = Ipam::new(state.subnet, Some(state.gateway))?;
        for ip in state.allocated {
            ipam.allocate_specific(ip)?;
        }
        ipam.last = state.last.filter(|ip| state.subnet.contains(*ip));
        Ok(ipam)
    }
}

impl From<Ipam> for IpamState {
    fn from(ipam: Ipam) -> Self {
        Self {
            subnet: ipam.subnet,
            gateway: ipam.gateway,
            allocated: ipam.allocated,
            last: ipam.last,
        }
    }
}
