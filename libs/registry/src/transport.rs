//! Connections to a registry: TLS as dockerd sets it up (the system's CAs plus
//! `certs.d/HOST[:PORT]/*.crt`, client certificates from `*.cert`/`*.key` there, read
//! again for every connection so a removed CA stops counting at once), plain HTTP only
//! for registries marked insecure, and one HTTP/1.1 request per connection.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore};

use crate::RegistryError;

/// How berth reaches registries: dockerd's `--insecure-registry` and certs.d directory.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Docker's `/etc/docker/certs.d`.
    pub certs_dir: PathBuf,
    /// Registries spoken to without certificate checks, and over plain HTTP when HTTPS
    /// fails: CIDRs (`10.0.0.0/8`) and `host[:port]` names. Loopback always is.
    pub insecure: Vec<String>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            certs_dir: PathBuf::from("/etc/docker/certs.d"),
            insecure: Vec::new(),
        }
    }
}

fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let Some((net, len)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(len)) = (net.parse::<IpAddr>(), len.parse::<u32>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

impl TransportConfig {
    /// Whether `host` (`name[:port]`) is insecure: named so, or resolving to an address
    /// in an insecure range (loopback always), as dockerd decides.
    pub async fn is_insecure(&self, host: &str) -> bool {
        if self.insecure.iter().any(|h| h == host) {
            return true;
        }
        let with_port = if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            && !host.ends_with(']')
        {
            host.to_owned()
        } else {
            format!("{host}:443")
        };
        let Ok(addrs) = tokio::net::lookup_host(with_port).await else {
            return false;
        };
        let addrs: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
        !addrs.is_empty()
            && addrs
                .iter()
                .all(|ip| ip.is_loopback() || self.insecure.iter().any(|c| cidr_contains(c, *ip)))
    }

    /// The TLS setup for `host`: the system's CAs and `certs.d/<host>/`, or no checks at
    /// all for an insecure registry.
    pub fn tls(&self, host: &str, verify: bool) -> Result<ClientConfig, RegistryError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| RegistryError::Certificate(e.to_string()))?;
        let builder = if verify {
            let mut roots = RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            for ca in files(&self.certs_dir.join(host), "crt") {
                for cert in CertificateDer::pem_file_iter(&ca).map_err(|e| cert_error(&ca, e))? {
                    roots
                        .add(cert.map_err(|e| cert_error(&ca, e))?)
                        .map_err(|e| {
                            RegistryError::Certificate(format!("{}: {e}", ca.display()))
                        })?;
                }
            }
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification))
        };
        // dockerd pairs `name.cert` with `name.key`.
        let client = files(&self.certs_dir.join(host), "cert")
            .into_iter()
            .find_map(|cert| {
                let key = cert.with_extension("key");
                key.is_file().then_some((cert, key))
            });
        match client {
            None => Ok(builder.with_no_client_auth()),
            Some((cert, key)) => {
                let chain = CertificateDer::pem_file_iter(&cert)
                    .map_err(|e| cert_error(&cert, e))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| cert_error(&cert, e))?;
                let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| cert_error(&key, e))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| RegistryError::Certificate(e.to_string()))
            }
        }
    }
}

fn cert_error(path: &Path, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Certificate(format!("{}: {e}", path.display()))
}

/// The files of `dir` ending in `.ext`, sorted; none when `dir` does not exist.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// For insecure registries only: any certificate is accepted, as dockerd does for them.
#[derive(Debug)]
struct NoVerification;

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Go's net/http defaults, which dockerd uses: a registry that takes longer is down.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
const TLS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How to reach one registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Https { verify: bool },
    Http,
}

/// A request body: whole bytes, or a stream of them (a blob on its way up).
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// Whole bytes as a [`Body`].
pub fn full(bytes: Bytes) -> Body {
    use http_body_util::BodyExt as _;
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Sends one request over a new connection to `host` (`name[:port]`).
pub async fn send(
    config: &TransportConfig,
    scheme: Scheme,
    host: &str,
    request: http::Request<Body>,
) -> Result<http::Response<Incoming>, RegistryError> {
    let connect_error = |message: String| RegistryError::Connect {
        registry: host.to_owned(),
        message,
    };
    let default_port = if scheme == Scheme::Http { 80 } else { 443 };
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if p.parse::<u16>().is_ok() && !n.ends_with(':') => (
            n.trim_start_matches('[').trim_end_matches(']'),
            p.parse().unwrap_or(default_port),
        ),
        _ => (host, default_port),
    };
    let tcp = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((name, port)),
    )
    .await
    .map_err(|_| connect_error(format!("no connection within {CONNECT_TIMEOUT:?}")))?
    .map_err(|e| connect_error(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    match scheme {
        Scheme::Http => handshake(TokioIo::new(tcp), request, host).await,
        Scheme::Https { verify } => {
            let tls = config.tls(host, verify)?;
            let server = ServerName::try_from(name.to_owned())
                .map_err(|e| connect_error(format!("invalid server name: {e}")))?;
            let connecting = tokio_rustls::TlsConnector::from(Arc::new(tls)).connect(server, tcp);
            let stream = tokio::time::timeout(TLS_TIMEOUT, connecting)
                .await
                .map_err(|_| connect_error(format!("no TLS handshake within {TLS_TIMEOUT:?}")))?
                .map_err(|e| tls_error(host, e))?;
            handshake(TokioIo::new(stream), request, host).await
        }
    }
}

fn tls_error(host: &str, e: std::io::Error) -> RegistryError {
    let text = e.to_string();
    if text.contains("UnknownIssuer") || text.contains("invalid peer certificate") {
        RegistryError::Certificate("certificate signed by unknown authority".into())
    } else {
        RegistryError::Connect {
            registry: host.to_owned(),
            message: text,
        }
    }
}

async fn handshake<T>(
    io: TokioIo<T>,
    request: http::Request<Body>,
    host: &str,
) -> Result<http::Response<Incoming>, RegistryError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let failed = |e: hyper::Error| RegistryError::Connect {
        registry: host.to_owned(),
        message: e.to_string(),
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(failed)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender.send_request(request).await.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_and_listed_ranges_are_insecure() {
        let config = TransportConfig {
            insecure: vec!["10.9.0.0/16".into(), "reg.example:5000".into()],
            ..Default::default()
        };
        assert!(config.is_insecure("127.0.0.1:5000").await);
        assert!(config.is_insecure("localhost:5000").await);
        assert!(config.is_insecure("10.9.3.4:5000").await);
        assert!(config.is_insecure("reg.example:5000").await);
        assert!(!config.is_insecure("10.8.0.1:5000").await);
        assert!(cidr_contains("::1/128", "::1".parse().unwrap()));
        assert!(!cidr_contains("junk", "::1".parse().unwrap()));
    }
}
