//! The gateway: the Docker Engine API in front of berth's services. Stateless: any replica
//! serves any request; what it needs to know it asks the services or hears on the bus.
//!
//! It never touches images, containers or the host itself; every action is a call to the
//! service that owns it.

mod api;
mod build_info;
mod error;
mod host;
mod runner_pool;
mod state;
mod tls;

use std::sync::Arc;

use axum::ServiceExt as _;
use axum::body::Body;
use axum::response::IntoResponse as _;
use berth_bus::Bus;
use http::Request;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

pub use api::version::{API_VERSION, MIN_API_VERSION};
pub use error::ApiError;
pub use host::Host;
pub use tls::{TcpSecurity, TlsArgs, TlsError};

use crate::host::HostListener;
use crate::runner_pool::RunnerPool;
use crate::state::AppState;

/// Why the gateway could not run.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot listen on {host}: {source}")]
    Listen {
        host: Host,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot follow the runner pool: {0}")]
    Bus(#[from] berth_bus::BusError),
    #[error(transparent)]
    Health(#[from] berth_rpc::RpcError),
}

/// The largest single gRPC answer the gateway accepts (an image config or a list of
/// images; bulk data arrives as streams of small chunks).
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// What the gateway needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to serve the Docker API on.
    pub hosts: Vec<Host>,
    /// How TCP hosts are served ([`TlsArgs::resolve`]).
    pub tcp_security: TcpSecurity,
    /// Where to serve gRPC health, if anywhere.
    pub health_listen: Option<berth_rpc::Endpoint>,
    /// The image store's gRPC address.
    pub image_store: berth_rpc::Endpoint,
    /// The registry proxy's gRPC address: pulls and pushes.
    pub registry_proxy: berth_rpc::Endpoint,
    pub bus: Arc<dyn Bus>,
}

/// A gateway whose listeners are bound: clients can connect from now on, and requests are
/// answered once [`Gateway::serve`] runs.
#[derive(Debug)]
pub struct Gateway {
    listeners: Vec<(Host, HostListener)>,
    health: Option<berth_rpc::Listener>,
    state: AppState,
}

impl Gateway {
    /// Binds every address and starts following the runner pool (until `shutdown`).
    pub async fn bind(config: Config, shutdown: &CancellationToken) -> Result<Self, GatewayError> {
        let runners = RunnerPool::follow(config.bus.clone(), shutdown.clone()).await?;
        let mut listeners = Vec::new();
        for host in &config.hosts {
            let listener =
                host.bind(&config.tcp_security)
                    .await
                    .map_err(|source| GatewayError::Listen {
                        host: host.clone(),
                        source,
                    })?;
            listeners.push((host.clone(), listener));
        }
        let health = match &config.health_listen {
            Some(endpoint) => Some(berth_rpc::Listener::bind(endpoint).await?),
            None => None,
        };
        Ok(Gateway {
            listeners,
            health,
            state: AppState {
                bus: config.bus,
                runners,
                image_store: berth_proto::v1::image_store_client::ImageStoreClient::new(
                    berth_rpc::connect(&config.image_store)?,
                )
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
                registry_proxy: berth_proto::v1::registry_proxy_client::RegistryProxyClient::new(
                    berth_rpc::connect(&config.registry_proxy)?,
                ),
            },
        })
    }

    /// The ports of the TCP listeners bound beyond loopback: what containers must be kept
    /// from reaching through their bridge.
    pub fn exposed_tcp_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .listeners
            .iter()
            .filter_map(|(_, l)| match l {
                HostListener::Tcp(l) => l.local_addr().ok(),
                HostListener::Tls(l) => axum::serve::Listener::local_addr(l).ok(),
                HostListener::Unix(_) => None,
            })
            .filter(|a| !a.ip().is_loopback())
            .map(|a| a.port())
            .collect();
        ports.dedup();
        ports
    }

    /// Waits until at least one runner has announced itself, or `timeout` passes; says
    /// which. For a single-host start that should not report ready before it can run.
    pub async fn wait_for_runner(&self, timeout: std::time::Duration) -> bool {
        self.state.runners.wait_for_any(timeout).await
    }

    /// Serves until `shutdown` is cancelled; requests in flight finish first.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), GatewayError> {
        let router = api::router(self.state);
        let routed = tower::service_fn(move |req: Request<Body>| {
            let router = router.clone();
            async move {
                match api::version::strip_prefix(req) {
                    Ok(req) => router.oneshot(req).await,
                    Err(refusal) => Ok(refusal.into_response()),
                }
            }
        });
        // Every Docker API call is one trace: this span is the parent of every gRPC call
        // and bus message the request causes.
        let app = tower::Layer::layer(&berth_telemetry::http::HttpTraceLayer::default(), routed);

        let mut servers = tokio::task::JoinSet::new();
        if let Some(listener) = self.health {
            let (_reporter, health) = berth_rpc::health();
            let routes = tonic::service::Routes::new(health);
            let stop = shutdown.clone().cancelled_owned();
            servers.spawn(async move { Ok(berth_rpc::serve(listener, routes, stop).await?) });
        }
        for (host, listener) in self.listeners {
            tracing::info!(%host, "serving the Docker API");
            let app = app.clone().into_make_service();
            let stop = shutdown.clone().cancelled_owned();
            servers.spawn(async move {
                let served = match listener {
                    HostListener::Unix(l) => axum::serve(l, app).with_graceful_shutdown(stop).await,
                    HostListener::Tcp(l) => axum::serve(l, app).with_graceful_shutdown(stop).await,
                    HostListener::Tls(l) => axum::serve(l, app).with_graceful_shutdown(stop).await,
                };
                if let Host::Unix(path) = &host {
                    let _ = std::fs::remove_file(path);
                }
                served.map_err(|source| GatewayError::Listen { host, source })
            });
        }
        while let Some(done) = servers.join_next().await {
            match done {
                Ok(result) => result?,
                Err(e) => tracing::error!(error = %e, "a listener task failed"),
            }
        }
        Ok(())
    }
}

/// Binds and serves until `shutdown` is cancelled.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), GatewayError> {
    Gateway::bind(config, &shutdown)
        .await?
        .serve(shutdown)
        .await
}
