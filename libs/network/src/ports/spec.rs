//! `--publish` values: `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]`, as the docker
//! CLI writes them (IPv6 host addresses in brackets, `HOST_IP::PORT` for a random host
//! port on one address). Port ranges (`8000-8010:80-90`) are refused with a clear error:
//! the caller expands them, one spec per port.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::NetworkError;

/// The transport of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP, the default.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        })
    }
}

/// One published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortSpec {
    /// The host address to listen on; every address (0.0.0.0) when `None`.
    pub host_ip: Option<IpAddr>,
    /// The host port; a free one from the kernel's ephemeral range when `None` (`-P`, or
    /// `-p 80` without a host port).
    pub host_port: Option<u16>,
    /// The port inside the container.
    pub container_port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
}

impl PortSpec {
    /// A port on a random free host port on every address: what `-P` asks for each of the
    /// image's exposed ports.
    pub fn random(container_port: u16, protocol: Protocol) -> Self {
        Self {
            host_ip: None,
            host_port: None,
            container_port,
            protocol,
        }
    }

    /// The host address to bind: the given or unspecified IP, and the port (0 = random).
    pub fn host_addr(&self) -> SocketAddr {
        let ip = self.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        SocketAddr::new(ip, self.host_port.unwrap_or(0))
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(ip) => write!(f, "{ip}:")?,
            None => {}
        }
        match self.host_port {
            Some(port) => write!(f, "{port}:")?,
            None if self.host_ip.is_some() => f.write_str(":")?,
            None => {}
        }
        write!(f, "{}/{}", self.container_port, self.protocol)
    }
}

impl FromStr for PortSpec {
    type Err = NetworkError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| NetworkError::InvalidPortSpec {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let (rest, protocol) = match spec.rsplit_once('/') {
            Some((rest, "tcp")) => (rest, Protocol::Tcp),
            Some((rest, "udp")) => (rest, Protocol::Udp),
            Some((_, "sctp")) => {
                return Err(invalid("berth does not publish SCTP ports"));
            }
            Some(_) => return Err(invalid("the protocol must be tcp or udp")),
            None => (spec, Protocol::Tcp),
        };
        let (host_ip, ports) = split_host_ip(rest).map_err(invalid)?;
        let (host_port, container_port) = match ports.split(':').collect::<Vec<_>>()[..] {
            [container] if host_ip.is_none() => (None, container),
            [host, container] => (Some(host), container),
            _ => {
                return Err(invalid(
                    "put IPv6 host addresses in brackets, e.g. [::1]:8080:80",
                ));
            }
        };
        if ports.contains('-') {
            return Err(invalid(
                "port ranges are not supported; publish each port on its own",
            ));
        }
        let container_port = parse_port(container_port)
            .filter(|p| *p != 0)
            .ok_or_else(|| invalid("the container port must be a number from 1 to 65535"))?;
        let host_port = match host_port {
            None | Some("") => None,
            Some(text) => match parse_port(text) {
                Some(0) => None,
                Some(port) => Some(port),
                None => return Err(invalid("the host port must be a number from 1 to 65535")),
            },
        };
        Ok(Self {
            host_ip,
            host_port,
            container_port,
            protocol,
        })
    }
}

/// Splits `IP:rest` (with `[v6]:rest`) off; a bare `PORT` or `HOST:CONTAINER` has no IP.
fn split_host_ip(text: &str) -> Result<(Option<IpAddr>, &str), &'static str> {
    if let Some(bracketed) = text.strip_prefix('[') {
        let (ip, rest) = bracketed
            .split_once("]:")
            .ok_or("a bracketed IPv6 address must be followed by ':'")?;
        let ip = ip
            .parse()
            .map_err(|_| "the host address is not an IPv6 address")?;
        return Ok((Some(IpAddr::V6(ip)), rest));
    }
    if text.matches(':').count() == 2 {
        let (ip, rest) = text.split_once(':').expect("two colons");
        let ip = ip
            .parse()
            .map_err(|_| "the host address is not an IP address")?;
        return Ok((Some(ip), rest));
    }
    Ok((None, text))
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
