//! What every berth binary does before its own work: the flags all services share, logs
//! and traces, a stop token for SIGTERM/SIGINT, and the bus. Each `main.rs` then only
//! names its own flags and calls its service's `serve`.
//!
//! Nothing here knows any service; it must stay free of service logic.

pub mod data_root;
mod rlimit;

use std::sync::Arc;

use berth_bus::Bus;
use berth_rpc::shutdown::CancellationToken;
use berth_telemetry::{TelemetryConfig, TelemetryGuard};

pub use rlimit::raise_open_file_limit;

/// Why a process could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("setting up logs and traces: {0}")]
    Telemetry(#[from] berth_telemetry::TelemetryError),
    #[error("installing signal handlers: {0}")]
    Signals(#[from] std::io::Error),
    #[error("connecting to the bus: {0}")]
    Bus(#[from] berth_bus::BusError),
}

/// `--nats`, as every service takes it.
#[derive(Debug, Clone, clap::Args)]
pub struct BusArgs {
    /// The NATS bus (events, heartbeats), e.g. nats://127.0.0.1:4222. Without it, messages
    /// stay inside this process: enough to try one service alone, not for a cluster.
    #[arg(long, env = "BERTH_NATS_URL")]
    pub nats: Option<String>,
}

/// Mutual TLS for this service's gRPC over TCP: all three flags, or none (plain gRPC,
/// for a network only berth's services reach).
#[derive(Debug, Clone, clap::Args)]
pub struct GrpcTlsArgs {
    /// CA certificate (PEM) every peer's gRPC certificate must chain to. With
    /// --grpc-tlscert and --grpc-tlskey, every TCP gRPC endpoint this process serves or
    /// dials uses mutual TLS.
    #[arg(long, env = "BERTH_GRPC_TLSCACERT", requires_all = ["grpc_tlscert", "grpc_tlskey"])]
    pub grpc_tlscacert: Option<std::path::PathBuf>,
    /// This service's gRPC certificate (PEM), naming the host or address peers dial
    /// (server) and accepted as a client certificate by peers.
    #[arg(long, env = "BERTH_GRPC_TLSCERT", requires_all = ["grpc_tlscacert", "grpc_tlskey"])]
    pub grpc_tlscert: Option<std::path::PathBuf>,
    /// The private key (PEM) of --grpc-tlscert.
    #[arg(long, env = "BERTH_GRPC_TLSKEY", requires_all = ["grpc_tlscacert", "grpc_tlscert"])]
    pub grpc_tlskey: Option<std::path::PathBuf>,
}

impl GrpcTlsArgs {
    /// Turns mutual TLS on for this process when the flags ask for it. Call it before
    /// the service dials or serves anything.
    pub fn apply(&self) -> Result<(), berth_rpc::RpcError> {
        if let (Some(ca), Some(cert), Some(key)) =
            (&self.grpc_tlscacert, &self.grpc_tlscert, &self.grpc_tlskey)
        {
            berth_rpc::use_mutual_tls(berth_rpc::MutualTls::read(ca, cert, key)?);
        }
        Ok(())
    }
}

/// A started process: keep it alive for as long as `main` runs.
#[derive(Debug)]
pub struct Process {
    /// Cancelled on the first SIGTERM or SIGINT.
    pub shutdown: CancellationToken,
    pub bus: Arc<dyn Bus>,
    _telemetry: TelemetryGuard,
}

/// Sets up telemetry as `service_name`, the stop signals, and the bus. Call it first
/// thing in a Tokio `main`.
pub async fn start(service_name: &str, bus: &BusArgs) -> Result<Process, DaemonError> {
    let telemetry = berth_telemetry::init(&TelemetryConfig::from_env(service_name))?;
    raise_open_file_limit();
    let shutdown = berth_rpc::shutdown::on_signals()?;
    let bus = berth_bus::connect(bus.nats.as_deref()).await?;
    Ok(Process {
        shutdown,
        bus,
        _telemetry: telemetry,
    })
}

/// Parses `KEY=VALUE` flags such as `--label`.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}
