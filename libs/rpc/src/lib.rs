//! How a berth service serves and calls gRPC, the same way in every service: where it
//! listens ([`Endpoint`]), the health service, trace context on every call, and a graceful
//! stop on SIGTERM/SIGINT ([`shutdown`]).
//!
//! This crate knows no berth API; the contracts live in `berth-proto`.

mod client;
mod endpoint;
mod error;
mod server;
pub mod shutdown;
mod tls;

pub use client::{TracedChannel, connect};
pub use endpoint::Endpoint;
pub use error::RpcError;
pub use server::{Listener, serve, serve_service};
pub use tls::{MutualTls, use_mutual_tls};
pub use tonic_health::server::HealthReporter;

/// A health reporter and the health service it drives, for [`serve`]'s routes.
pub fn health() -> (
    HealthReporter,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    tonic_health::server::health_reporter()
}
