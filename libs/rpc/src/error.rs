use crate::Endpoint;

/// Why a gRPC endpoint could not be served or reached.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("invalid address {0:?}: use tcp://HOST:PORT, HOST:PORT or unix:///PATH")]
    InvalidEndpoint(String),
    #[error("cannot listen on {endpoint}: {source}")]
    Bind {
        endpoint: Endpoint,
        #[source]
        source: std::io::Error,
    },
    #[error("gRPC server on {endpoint} failed: {source}")]
    Serve {
        endpoint: Endpoint,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("cannot read the gRPC TLS file {path}: {source}")]
    TlsFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid gRPC TLS settings: {0}")]
    Tls(#[source] tonic::transport::Error),
    #[error("invalid gRPC address {endpoint}: {source}")]
    Client {
        endpoint: Endpoint,
        #[source]
        source: tonic::transport::Error,
    },
}
