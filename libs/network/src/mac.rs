//! MAC addresses for container interfaces, derived from the IPv4 address as Docker does
//! (`02:42` then the four address bytes), so a container's MAC is stable across
//! restarts and never collides with another container's on the same network.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A 48-bit Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MacAddress(pub [u8; 6]);

impl MacAddress {
    /// Docker's MAC for an IPv4 address: locally administered `02:42`, then the address,
    /// e.g. 172.17.0.2 -> `02:42:ac:11:00:02`.
    pub fn from_ipv4(ip: Ipv4Addr) -> Self {
        let [a, b, c, d] = ip.octets();
        Self([0x02, 0x42, a, b, c, d])
    }

    /// The six bytes, as netlink wants them.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts
                .next()
                .ok_or_else(|| format!("MAC {s:?} is too short"))?;
            *byte = u8::from_str_radix(part, 16).map_err(|_| format!("MAC {s:?} is not hex"))?;
        }
        if parts.next().is_some() {
            return Err(format!("MAC {s:?} is too long"));
        }
        Ok(Self(out))
    }
}

impl TryFrom<String> for MacAddress {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<MacAddress> for String {
    fn from(mac: MacAddress) -> Self {
        mac.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_dockers_mac_from_the_ip() {
        let mac = MacAddress::from_ipv4(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(mac.to_string(), "02:42:ac:11:00:02");
        assert_eq!("02:42:ac:11:00:02".parse::<MacAddress>().unwrap(), mac);
        assert!("02:42:ac:11:00".parse::<MacAddress>().is_err());
        assert!("02:42:ac:11:00:02:03".parse::<MacAddress>().is_err());
    }
}
