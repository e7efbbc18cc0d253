//! IPv4 subnets (`172.30.0.0/16`): parsing, the addresses that matter to a bridge
//! network, and serde as the usual string form.
//!
//! A subnet here always has its host bits zero and room for a gateway plus at least one
//! container (prefix 1 to 30); anything else is refused when parsed, never silently
//! rounded, so a typo cannot turn into someone else's range.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::NetworkError;

/// An IPv4 subnet with its host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Subnet {
    network: Ipv4Addr,
    prefix_len: u8,
}

impl Ipv4Subnet {
    /// The subnet `network/prefix_len`; fails when host bits are set or the prefix leaves
    /// no room for a gateway and a container.
    pub fn new(network: Ipv4Addr, prefix_len: u8) -> Result<Self, NetworkError> {
        let invalid = |reason: String| NetworkError::InvalidSubnet {
            input: format!("{network}/{prefix_len}"),
            reason,
        };
        if !(1..=30).contains(&prefix_len) {
            return Err(invalid(
                "the prefix must be 1 to 30, to leave room for a gateway and a container".into(),
            ));
        }
        let subnet = Self {
            network,
            prefix_len,
        };
        if u32::from(network) & !subnet.mask() != 0 {
            let base = Ipv4Addr::from(u32::from(network) & subnet.mask());
            return Err(invalid(format!(
                "host bits are set; did you mean {base}/{prefix_len}?"
            )));
        }
        Ok(subnet)
    }

    /// The network address (all host bits zero).
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length, e.g. 16.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The broadcast address (all host bits one).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !self.mask())
    }

    /// The lowest host address: the default gateway, as Docker does.
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// The highest host address.
    pub fn last_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.broadcast()) - 1)
    }

    /// Whether `ip` lies in this subnet (network and broadcast included).
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network)
    }

    /// Whether the two subnets share any address (one contains the other).
    pub fn overlaps(&self, other: &Ipv4Subnet) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }

    /// The subnets of prefix length `prefix_len` that this one splits into, lowest first;
    /// none when `prefix_len` is shorter than this subnet's.
    pub fn split(&self, prefix_len: u8) -> impl Iterator<Item = Ipv4Subnet> + use<> {
        let base = u32::from(self.network);
        let count: u64 = if (self.prefix_len..=30).contains(&prefix_len) {
            1 << (prefix_len - self.prefix_len)
        } else {
            0
        };
        let step = 1u64 << (32 - u32::from(prefix_len.clamp(1, 32)));
        (0..count).map(move |i| Ipv4Subnet {
            network: Ipv4Addr::from((u64::from(base) + i * step) as u32),
            prefix_len,
        })
    }

    /// The netmask as a number, e.g. `0xffff_0000` for /16.
    fn mask(&self) -> u32 {
        u32::MAX << (32 - u32::from(self.prefix_len))
    }
}

impl fmt::Display for Ipv4Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl FromStr for Ipv4Subnet {
    type Err = NetworkError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| NetworkError::InvalidSubnet {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let (addr, prefix) = input
            .split_once('/')
            .ok_or_else(|| invalid("the /PREFIX is missing"))?;
        let network: Ipv4Addr = addr
            .parse()
            .map_err(|_| invalid("the address is not IPv4"))?;
        let prefix_len: u8 = prefix
            .parse()
            .map_err(|_| invalid("the prefix is not a number"))?;
        Self::new(network, prefix_len).map_err(|e| match e {
            NetworkError::InvalidSubnet { reason, .. } => NetworkError::InvalidSubnet {
                input: input.to_string(),
                reason,
            },
            other => other,
        })
    }
}

impl TryFrom<String> for Ipv4Subnet {
    type Error = NetworkError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Ipv4Subnet> for String {
    fn from(subnet: Ipv4Subnet) -> Self {
        subnet.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_computes_the_special_addresses() {
        let s: Ipv4Subnet = "172.30.0.0/16".parse().unwrap();
        assert_eq!(s.network(), Ipv4Addr::new(172, 30, 0, 0));
        assert_eq!(s.broadcast(), Ipv4Addr::new(172, 30, 255, 255));
        assert_eq!(s.first_host(), Ipv4Addr::new(172, 30, 0, 1));
        assert_eq!(s.last_host(), Ipv4Addr::new(172, 30, 255, 254));
        assert!(s.contains(Ipv4Addr::new(172, 30, 9, 9)));
        assert!(!s.contains(Ipv4Addr::new(172, 31, 0, 1)));
        assert_eq!(s.to_string(), "172.30.0.0/16");
    }

    #[test]
    fn refuses_host_bits_missing_prefix_and_tiny_subnets() {
        for bad in [
            "10.0.0.1/24",
            "10.0.0.0",
            "10.0.0.0/31",
            "10.0.0.0/0",
            "x/8",
            "::/64",
        ] {
            assert!(
                matches!(
                    bad.parse::<Ipv4Subnet>(),
                    Err(NetworkError::InvalidSubnet { .. })
                ),
                "{bad} should be refused"
            );
        }
        let err = "10.0.0.1/24".parse::<Ipv4Subnet>().unwrap_err().to_string();
        assert!(err.contains("did you mean 10.0.0.0/24"), "{err}");
    }

    #[test]
    fn overlap_and_split() {
        let s = |t: &str| t.parse::<Ipv4Subnet>().unwrap();
        assert!(s("10.0.0.0/16").overlaps(&s("10.0.3.0/24")));
        assert!(s("10.0.3.0/24").overlaps(&s("10.0.0.0/16")));
        assert!(!s("10.0.3.0/24").overlaps(&s("10.0.4.0/24")));
        let parts: Vec<String> = s("10.9.0.0/22").split(24).map(|p| p.to_string()).collect();
        assert_eq!(
            parts,
            ["10.9.0.0/24", "10.9.1.0/24", "10.9.2.0/24", "10.9.3.0/24"]
        );
        assert_eq!(s("10.9.0.0/24").split(28).count(), 16);
        assert_eq!(
            s("10.9.0.0/24").split(16).count(),
            0,
            "cannot split into larger"
        );
    }

    #[test]
    fn serde_uses_the_string_form() {
        let s: Ipv4Subnet = "10.1.2.0/24".parse().unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"10.1.2.0/24\"");
        assert_eq!(serde_json::from_str::<Ipv4Subnet>(&json).unwrap(), s);
        assert!(serde_json::from_str::<Ipv4Subnet>("\"10.1.2.3/24\"").is_err());
    }
}
