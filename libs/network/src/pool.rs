//! Where user-defined networks get their subnets when none is asked for: a pool (dockerd's
//! `--default-address-pool base=…,size=…`) carved into equal subnets, handing out the
//! first one that overlaps neither another network nor a route the host already has.
//!
//! Picking never reserves anything: the caller records the subnet with its network under
//! its own lock. Reading the host's routes is the only contact with the kernel, and it is
//! a read (`/proc/net/route`).

use std::net::Ipv4Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{NetworkError, Result};
use crate::subnet::Ipv4Subnet;

/// The host's IPv4 routing table, as the kernel lists it.
pub const PROC_NET_ROUTE: &str = "/proc/net/route";

/// A pool of subnets for new networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetPool {
    base: Ipv4Subnet,
    size: u8,
}

impl SubnetPool {
    /// The pool `base`, carved into subnets of prefix length `size`.
    pub fn new(base: Ipv4Subnet, size: u8) -> Result<Self> {
        if size < base.prefix_len() || size > 30 {
            return Err(NetworkError::InvalidPool {
                pool: format!("{base},size={size}"),
                reason: format!(
                    "the size must lie between the pool's prefix ({}) and 30",
                    base.prefix_len()
                ),
            });
        }
        Ok(Self { base, size })
    }

    /// Parses `BASE/PREFIX` (subnets of /24, or of the pool's own size when it is
    /// smaller) or `BASE/PREFIX,size=N`, the form of dockerd's `--default-address-pool`
    /// (`base=` may stand before the subnet).
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: &str| NetworkError::InvalidPool {
            pool: text.to_string(),
            reason: reason.to_string(),
        };
        let mut base = None;
        let mut size = None;
        for part in text.split(',').map(str::trim) {
            if let Some(n) = part.strip_prefix("size=") {
                size = Some(n.parse().map_err(|_| invalid("size is not a number"))?);
            } else {
                base = Some(part.strip_prefix("base=").unwrap_or(part).parse()?);
            }
        }
        let base: Ipv4Subnet = base.ok_or_else(|| invalid("the base subnet is missing"))?;
        Self::new(base, size.unwrap_or(base.prefix_len().max(24)))
    }

    /// The whole pool.
    pub fn base(&self) -> Ipv4Subnet {
        self.base
    }

    /// The prefix length of the subnets it hands out.
    pub fn size(&self) -> u8 {
        self.size
    }

    /// The first subnet of the pool that overlaps none of `taken`.
    pub fn pick(&self, taken: &[Ipv4Subnet]) -> Result<Ipv4Subnet> {
        self.base
            .split(self.size)
            .find(|candidate| !taken.iter().any(|t| t.overlaps(candidate)))
            .ok_or(NetworkError::PoolExhausted { pool: *self })
    }
}

impl std::fmt::Display for SubnetPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},size={}", self.base, self.size)
    }
}

/// The destinations of the host's IPv4 routes, default routes left out (they overlap
/// everything and say nothing about which addresses are in use).
pub fn host_routes() -> Result<Vec<Ipv4Subnet>> {
    host_routes_from(Path::new(PROC_NET_ROUTE))
}

pub(crate) fn host_routes_from(path: &Path) -> Result<Vec<Ipv4Subnet>> {
    let text = std::fs::read_to_string(path).map_err(|source| NetworkError::File {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_proc_routes(&text))
}

/// `/proc/net/route` lists destination and mask as hex of the address in network byte
/// order, read as a little-endian number.
fn parse_proc_routes(text: &str) -> Vec<Ipv4Subnet> {
    let hex_addr = |h: &str| {
        u32::from_str_radix(h, 16)
            .ok()
            .map(|n| Ipv4Addr::from(n.to_le_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let destination = hex_addr(fields.get(1)?)?;
            let mask = hex_addr(fields.get(7)?)?;
            let prefix = u32::from(mask).leading_ones() as u8;
            // Host routes (/31, /32) still occupy an address: widen them to a /30.
            let prefix = prefix.min(30);
            if prefix == 0 {
                return None;
            }
            let network = Ipv4Addr::from(u32::from(destination) & (u32::MAX << (32 - prefix)));
            Ipv4Subnet::new(network, prefix).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(text: &str) -> Ipv4Subnet {
        text.parse().unwrap()
    }

    #[test]
    fn parses_dockers_pool_forms() {
        let p = SubnetPool::parse("10.210.0.0/16").unwrap();
        assert_eq!((p.base(), p.size()), (subnet("10.210.0.0/16"), 24));
        let p = SubnetPool::parse("base=10.7.0.0/24,size=28").unwrap();
        assert_eq!((p.base(), p.size()), (subnet("10.7.0.0/24"), 28));
        assert_eq!(SubnetPool::parse("10.7.0.0/26").unwrap().size(), 26);
        for bad in [
            "",
            "size=24",
            "10.7.0.0/24,size=16",
            "10.7.0.0/24,size=x",
            "10.7.0.1/24",
        ] {
            assert!(SubnetPool::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn picks_the_first_subnet_that_overlaps_nothing() {
        let pool = SubnetPool::parse("10.7.0.0/22,size=24").unwrap();
        assert_eq!(pool.pick(&[]).unwrap(), subnet("10.7.0.0/24"));
        let taken = [subnet("10.7.0.0/24"), subnet("10.7.1.128/25")];
        assert_eq!(pool.pick(&taken).unwrap(), subnet("10.7.2.0/24"));
        // A wide route elsewhere on the host takes the whole pool.
        let err = pool.pick(&[subnet("10.0.0.0/8")]).unwrap_err();
        assert!(matches!(err, NetworkError::PoolExhausted { .. }), "{err}");
        assert!(err.to_string().contains("--network-pool"), "{err}");
    }

    #[test]
    fn reads_the_kernels_route_table() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                    br0\t00001EAC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
                    tun0\t0101010A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n";
        let routes = parse_proc_routes(text);
        assert_eq!(
            routes,
            [
                subnet("192.168.0.0/24"),
                subnet("172.30.0.0/16"),
                subnet("10.1.1.0/30")
            ]
        );
        // The real table reads too (its contents depend on the host).
        assert!(host_routes().is_ok());
    }
}
