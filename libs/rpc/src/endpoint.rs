//! Where a service listens or is dialled: TCP for services spread over hosts, unix sockets
//! for `berthd`, where all services share one host and one data root.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::RpcError;

/// A gRPC address: `tcp://HOST:PORT` (or bare `HOST:PORT`, or `http://HOST:PORT`) or
/// `unix:///PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp(String),
    Unix(PathBuf),
}

impl FromStr for Endpoint {
    type Err = RpcError;

    fn from_str(s: &str) -> Result<Self, RpcError> {
        let invalid = || RpcError::InvalidEndpoint(s.to_owned());
        if let Some(path) = s.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(invalid());
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let hostport = s
            .strip_prefix("tcp://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(s);
        match hostport.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok() =>
            {
                Ok(Endpoint::Tcp(hostport.to_owned()))
            }
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(hostport) => write!(f, "tcp://{hostport}"),
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_users_write() {
        assert_eq!(
            "tcp://0.0.0.0:7101".parse::<Endpoint>().unwrap(),
            Endpoint::Tcp("0.0.0.0:7101".into())
        );
        assert_eq!(
            "image-store:7101".parse::<Endpoint>().unwrap(),
            Endpoint::Tcp("image-store:7101".into())
        );
        assert_eq!(
            "http://[::1]:1".parse::<Endpoint>().unwrap(),
            Endpoint::Tcp("[::1]:1".into())
        );
        assert_eq!(
            "unix:///run/berth/x.sock".parse::<Endpoint>().unwrap(),
            Endpoint::Unix("/run/berth/x.sock".into())
        );
        for bad in [
            "",
            "unix://rel.sock",
            "host",
            "host:port",
            ":80",
            "tcp://a/b:1",
        ] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn displays_round_trip() {
        for s in ["tcp://a:1", "unix:///x/y.sock"] {
            assert_eq!(s.parse::<Endpoint>().unwrap().to_string(), s);
        }
    }
}
