//! Serving a service's gRPC routes with trace context and a graceful stop.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;

use berth_telemetry::grpc::ServerTraceLayer;
use tokio::net::{TcpListener, UnixListener};
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};
use tonic::service::Routes;

use crate::{Endpoint, RpcError};

/// A bound listening socket. Binding before serving lets a caller know the address is
/// taken (and, for port 0, which port it got) before anyone dials it.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener, Endpoint),
    Unix(UnixListener, Endpoint),
}

impl Listener {
    /// Binds `endpoint`. A unix socket left by a previous run is replaced; its directory is
    /// created; the socket is made 0660 so only root and the socket's group can call it.
    pub async fn bind(endpoint: &Endpoint) -> Result<Self, RpcError> {
        let bind_err = |source| RpcError::Bind {
            endpoint: endpoint.clone(),
            source,
        };
        match endpoint {
            Endpoint::Tcp(hostport) => {
                let l = TcpListener::bind(hostport.as_str())
                    .await
                    .map_err(bind_err)?;
                let actual = Endpoint::Tcp(l.local_addr().map_err(bind_err)?.to_string());
                Ok(Listener::Tcp(l, actual))
            }
            Endpoint::Unix(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(bind_err)?;
                }
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(bind_err(e)),
                }
                let l = UnixListener::bind(path).map_err(bind_err)?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
                    .map_err(bind_err)?;
                Ok(Listener::Unix(l, endpoint.clone()))
            }
        }
    }

    /// The address clients dial (with the real port when 0 was asked for).
    pub fn endpoint(&self) -> &Endpoint {
        match self {
            Listener::Tcp(_, e) | Listener::Unix(_, e) => e,
        }
    }
}

/// Serves `routes` on `listener` until `shutdown` completes; requests in flight then
/// finish before this returns. Every request is traced with the caller's context.
pub async fn serve(
    listener: Listener,
    routes: Routes,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RpcError> {
    let endpoint = listener.endpoint().clone();
    tracing::info!(%endpoint, "serving gRPC");
    let mut builder = tonic::transport::Server::builder();
    if let (Listener::Tcp(..), Some(tls)) = (&listener, crate::tls::process_tls()) {
        builder = builder.tls_config(tls.server()).map_err(RpcError::Tls)?;
    }
    let server = builder
        .layer(ServerTraceLayer::default())
        .add_routes(routes);
    let result = match listener {
        Listener::Tcp(l, _) => {
            server
                .serve_with_incoming_shutdown(TcpListenerStream::new(l), shutdown)
                .await
        }
        Listener::Unix(l, _) => {
            server
                .serve_with_incoming_shutdown(UnixListenerStream::new(l), shutdown)
                .await
        }
    };
    if let Endpoint::Unix(path) = &endpoint {
        let _ = std::fs::remove_file(path);
    }
    result.map_err(|source| RpcError::Serve { endpoint, source })
}

/// Serves one berth service plus gRPC health, which reports it SERVING (under its full
/// name, e.g. `berth.v1.Runner`, and the empty name for the whole process) until shutdown.
pub async fn serve_service<S>(
    listener: Listener,
    service: S,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RpcError>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let (reporter, health) = crate::health();
    reporter
        .set_service_status(S::NAME, tonic_health::ServingStatus::Serving)
        .await;
    serve(listener, Routes::new(health).add_service(service), shutdown).await
}
