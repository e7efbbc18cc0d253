//! Mutual TLS for gRPC over TCP, for the distributed shape: every service presents a
//! certificate of the cluster's CA and talks only to peers holding one, so a container
//! or a stray pod that reaches a runner's port cannot drive it.
//!
//! It is set once per process ([`use_mutual_tls`]) and then applies to every TCP
//! endpoint this process serves or dials; unix sockets (berthd's, on its private data
//! root) stay plain.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::RpcError;

/// The PEM files of a process's gRPC identity and of the CA its peers must chain to.
#[derive(Debug, Clone)]
pub struct MutualTls {
    ca: Vec<u8>,
    cert: Vec<u8>,
    key: Vec<u8>,
}

static PROCESS_TLS: OnceLock<MutualTls> = OnceLock::new();

impl MutualTls {
    /// Reads the three PEM files.
    pub fn read(ca: &Path, cert: &Path, key: &Path) -> Result<Self, RpcError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| RpcError::TlsFile {
                path: PathBuf::from(path),
                source,
            })
        };
        Ok(MutualTls {
            ca: read(ca)?,
            cert: read(cert)?,
            key: read(key)?,
        })
    }

    fn identity(&self) -> Identity {
        Identity::from_pem(&self.cert, &self.key)
    }

    fn ca(&self) -> Certificate {
        Certificate::from_pem(&self.ca)
    }

    pub(crate) fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity())
            .client_ca_root(self.ca())
    }

    pub(crate) fn client(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .identity(self.identity())
            .ca_certificate(self.ca())
    }
}

/// Makes every TCP endpoint of this process, served or dialled, use `tls`. Call it
/// before the first [`crate::connect`] or [`crate::serve`]; only the first call counts.
pub fn use_mutual_tls(tls: MutualTls) {
    let _ = PROCESS_TLS.set(tls);
}

/// The process's mutual TLS, if it has any.
pub(crate) fn process_tls() -> Option<&'static MutualTls> {
    PROCESS_TLS.get()
}
