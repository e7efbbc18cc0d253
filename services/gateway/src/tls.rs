//! TLS for the Docker API over TCP, with dockerd's flags: whoever reaches the API is root
//! on the host, so a TCP listener beyond loopback is served over TLS (with client
//! certificates under `--tlsverify`) or, only when `--tls=false` says so, in plain HTTP.
//!
//! Handshakes run in tasks of their own, bounded in number and time, so a client that
//! stalls one never holds up the accept loop or other clients.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig, crypto};
use tokio_rustls::server::TlsStream;

use crate::host::Host;

/// dockerd's TLS flags. The defaults are files under /etc/berth, the daemon's
/// configuration directory (dockerd's are under the invoking user's ~/.docker).
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// Serve TCP hosts over TLS with --tlscert and --tlskey (implied by --tlsverify).
    /// `--tls=false` is required to serve plain HTTP on an address beyond loopback.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls: Option<bool>,
    /// Serve TCP hosts over TLS and accept only clients whose certificate --tlscacert
    /// signed.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tlsverify: Option<bool>,
    /// CA certificate (PEM) that client certificates must chain to, with --tlsverify.
    #[arg(long, default_value = "/etc/berth/ca.pem")]
    pub tlscacert: PathBuf,
    /// The server's certificate chain (PEM).
    #[arg(long, default_value = "/etc/berth/cert.pem")]
    pub tlscert: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, default_value = "/etc/berth/key.pem")]
    pub tlskey: PathBuf,
}

/// How TCP hosts are served.
#[derive(Debug, Clone)]
pub enum TcpSecurity {
    /// Plain HTTP; refused beyond loopback unless `allowed_beyond_loopback`.
    Plain { allowed_beyond_loopback: bool },
    /// HTTPS.
    Tls(Arc<ServerConfig>),
}

impl Default for TcpSecurity {
    fn default() -> Self {
        TcpSecurity::Plain {
            allowed_beyond_loopback: false,
        }
    }
}

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no {what} in PEM form: {message}")]
    Pem {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("the TLS settings are not usable: {0}")]
    Config(String),
    #[error(
        "refusing to serve the Docker API on {host} without TLS: whoever reaches it is root on this host. \
         Use --tlsverify --tlscacert CA.pem --tlscert CERT.pem --tlskey KEY.pem (or --tls with a \
         certificate and key), or listen on 127.0.0.1, or pass --tls=false to serve plain HTTP anyway"
    )]
    PlainBeyondLoopback { host: Host },
}

impl TlsArgs {
    /// Loads the certificates the flags name, when TLS is on, and refuses a plain
    /// listener beyond loopback among `hosts` unless `--tls=false` was given.
    pub fn resolve(&self, hosts: &[Host]) -> Result<TcpSecurity, TlsError> {
        let verify = self.tlsverify == Some(true);
        if verify || self.tls == Some(true) {
            return Ok(TcpSecurity::Tls(self.server_config(verify)?));
        }
        let allowed_beyond_loopback = self.tls == Some(false);
        if !allowed_beyond_loopback && let Some(host) = hosts.iter().find(|h| beyond_loopback(h)) {
            return Err(TlsError::PlainBeyondLoopback { host: host.clone() });
        }
        Ok(TcpSecurity::Plain {
            allowed_beyond_loopback,
        })
    }

    fn server_config(&self, verify: bool) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = Arc::new(crypto::ring::default_provider());
        let certs = read_pem(&self.tlscert, "certificate", |b| {
            CertificateDer::pem_slice_iter(b).collect::<Result<Vec<_>, _>>()
        })?;
        let key = read_pem(&self.tlskey, "private key", PrivateKeyDer::from_pem_slice)?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = if verify {
            let mut roots = RootCertStore::empty();
            let cas = read_pem(&self.tlscacert, "CA certificate", |b| {
                CertificateDer::pem_slice_iter(b).collect::<Result<Vec<_>, _>>()
            })?;
            for ca in cas {
                roots
                    .add(ca)
                    .map_err(|e| TlsError::Config(format!("{}: {e}", self.tlscacert.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Config(format!("{}: {e}", self.tlscert.display())))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn read_pem<T, E: std::fmt::Display>(
    path: &Path,
    what: &'static str,
    parse: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Result<T, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })?;
    parse(&bytes).map_err(|e| TlsError::Pem {
        what,
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Whether `host` is a TCP address that resolves to anything but loopback (a name that
/// does not resolve counts as beyond: binding it fails anyway).
fn beyond_loopback(host: &Host) -> bool {
    let Host::Tcp(addr) = host else {
        return false;
    };
    match addr.to_socket_addrs() {
        Ok(mut addrs) => addrs.any(|a| !a.ip().is_loopback()),
        Err(_) => true,
    }
}

/// The most TLS handshakes in progress at once; more clients wait in the kernel's
/// backlog, or are dropped past it.
const MAX_HANDSHAKES: usize = 128;
/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP listener that yields connections whose TLS handshake has completed.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(MAX_HANDSHAKES);
        let accepting = tokio::spawn(accept_loop(listener, TlsAcceptor::from(config), tx));
        Ok(TlsListener {
            ready,
            local,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed on the Docker API");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, ready) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let _ = ready.send((stream, peer)).await;
                }
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake refused"),
                Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(tls: Option<bool>, tlsverify: Option<bool>) -> TlsArgs {
        TlsArgs {
            tls,
            tlsverify,
            tlscacert: "/nonexistent/ca.pem".into(),
            tlscert: "/nonexistent/cert.pem".into(),
            tlskey: "/nonexistent/key.pem".into(),
        }
    }

    #[test]
    fn plain_beyond_loopback_needs_tls_false() {
        let open: Host = "tcp://0.0.0.0:2375".parse().unwrap();
        let local: Host = "tcp://127.0.0.1:2375".parse().unwrap();
        let err = args(None, None).resolve(&[local.clone(), open.clone()]);
        assert!(
            matches!(err, Err(TlsError::PlainBeyondLoopback { ref host }) if *host == open),
            "{err:?}"
        );
        assert!(args(None, None).resolve(&[local]).is_ok());
        assert!(matches!(
            args(Some(false), None).resolve(&[open]),
            Ok(TcpSecurity::Plain {
                allowed_beyond_loopback: true
            })
        ));
    }

    #[test]
    fn tls_needs_its_files() {
        let err = args(None, Some(true)).resolve(&[]).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/cert.pem"), "{err}");
    }
}
