//! Where the gateway listens: dockerd's `-H` syntax, so users' habits carry over.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::tls::{TcpSecurity, TlsListener};

/// Docker's default TCP port when `-H tcp://ADDR` names none.
const DEFAULT_TCP_PORT: u16 = 2375;

/// `unix:///PATH` or `tcp://ADDR[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    Tcp(String),
}

impl FromStr for Host {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("unix://") {
            if path.starts_with('/') {
                return Ok(Host::Unix(path.into()));
            }
        } else if let Some(addr) = s.strip_prefix("tcp://") {
            let addr = addr.trim_end_matches('/');
            let has_port = addr.rsplit_once(':').is_some_and(|(h, p)| {
                !h.is_empty() && !h.ends_with(':') && p.parse::<u16>().is_ok()
            });
            if !addr.is_empty() && !addr.contains('/') {
                return Ok(Host::Tcp(if has_port {
                    addr.to_owned()
                } else {
                    format!("{addr}:{DEFAULT_TCP_PORT}")
                }));
            }
        }
        Err(format!(
            "invalid host {s:?}: use unix:///PATH or tcp://ADDR[:PORT] (fd:// and ssh:// are not supported)"
        ))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{}", p.display()),
            Host::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// A bound listener of any kind.
#[derive(Debug)]
pub enum HostListener {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
    Tls(TlsListener),
}

impl Host {
    /// Binds the address. A unix socket gets mode 0660, as dockerd's does: only root and
    /// the socket's group may drive the engine, which is as good as root on the host.
    pub async fn bind(&self, security: &TcpSecurity) -> std::io::Result<HostListener> {
        match self {
            Host::Unix(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                match std::fs::remove_file(path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
                let listener = tokio::net::UnixListener::bind(path)?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
                Ok(HostListener::Unix(listener))
            }
            Host::Tcp(addr) => {
                let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
                let local = listener.local_addr()?;
                match security {
                    TcpSecurity::Tls(config) => Ok(HostListener::Tls(TlsListener::new(
                        listener,
                        config.clone(),
                    )?)),
                    TcpSecurity::Plain { .. } if local.ip().is_loopback() => {
                        Ok(HostListener::Tcp(listener))
                    }
                    TcpSecurity::Plain {
                        allowed_beyond_loopback: true,
                    } => {
                        tracing::warn!(%local, "the Docker API is listening on the network without TLS (--tls=false): anyone who reaches it is root on this host");
                        Ok(HostListener::Tcp(listener))
                    }
                    TcpSecurity::Plain {
                        allowed_beyond_loopback: false,
                    } => Err(std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        format!(
                            "{local} is beyond loopback: serve it with --tlsverify, or pass --tls=false"
                        ),
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockerd_hosts() {
        assert_eq!(
            "unix:///run/berth/berth.sock".parse(),
            Ok(Host::Unix("/run/berth/berth.sock".into()))
        );
        assert_eq!(
            "tcp://127.0.0.1:2376".parse(),
            Ok(Host::Tcp("127.0.0.1:2376".into()))
        );
        assert_eq!(
            "tcp://127.0.0.1".parse(),
            Ok(Host::Tcp("127.0.0.1:2375".into()))
        );
        assert_eq!("tcp://[::1]:5".parse(), Ok(Host::Tcp("[::1]:5".into())));
        for bad in ["/run/x.sock", "unix://rel", "fd://", "tcp://", "ssh://h"] {
            assert!(bad.parse::<Host>().is_err(), "{bad}");
        }
    }
}
