//! What every berth binary does before its own work: the flags all services share, logs
//! and traces, a stop token for SIGTERM/SIGINT, and the bus. Each `main.rs` then only
//! names its own flags and calls its service's `serve`.
//!
//! Nothing here knows any service; it must stay free of service logic.

pub mod data_root;
mod rlimit;

use std::path::PathBuf;
use std::sync::Arc;

use berth_bus::{Bus, NatsCredentials, NatsOptions, NatsTls, Secret};
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
    #[error("reading {flag} {}: {source}", path.display())]
    SecretFile {
        flag: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{flag} {} is empty: write the secret on its first line", path.display())]
    EmptySecret { flag: &'static str, path: PathBuf },
    #[error("--nats-user needs a password: --nats-password-file FILE or BERTH_NATS_PASSWORD")]
    NatsPasswordMissing,
}

/// `--nats` and how to authenticate to it, as every service takes them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BusArgs {
    /// The NATS bus (events, heartbeats), e.g. nats://127.0.0.1:4222, or tls://HOST:PORT
    /// for TLS. Without it, messages stay inside this process: enough to try one service
    /// alone, not for a cluster.
    #[arg(long, env = "BERTH_NATS_URL")]
    pub nats: Option<String>,
    /// A NATS credentials file (user JWT and nkey seed, as `nsc` issues them).
    #[arg(long, env = "BERTH_NATS_CREDS", requires = "nats",
          conflicts_with_all = ["nats_user", "nats_token_file", "nats_token"])]
    pub nats_creds: Option<PathBuf>,
    /// The NATS user, with its password in --nats-password-file or BERTH_NATS_PASSWORD.
    #[arg(long, env = "BERTH_NATS_USER", requires = "nats",
          conflicts_with_all = ["nats_token_file", "nats_token"])]
    pub nats_user: Option<String>,
    /// A file holding the password of --nats-user (one line).
    #[arg(
        long,
        env = "BERTH_NATS_PASSWORD_FILE",
        requires = "nats_user",
        conflicts_with = "nats_password"
    )]
    pub nats_password_file: Option<PathBuf>,
    /// The password of --nats-user. Set it in the environment or use --nats-password-file:
    /// a command line is visible to every user of the host.
    #[arg(
        long,
        env = "BERTH_NATS_PASSWORD",
        hide_env_values = true,
        requires = "nats_user"
    )]
    pub nats_password: Option<Secret>,
    /// A file holding the NATS token (one line).
    #[arg(
        long,
        env = "BERTH_NATS_TOKEN_FILE",
        requires = "nats",
        conflicts_with = "nats_token"
    )]
    pub nats_token_file: Option<PathBuf>,
    /// The NATS token. Set it in the environment or use --nats-token-file: a command line
    /// is visible to every user of the host.
    #[arg(
        long,
        env = "BERTH_NATS_TOKEN",
        hide_env_values = true,
        requires = "nats"
    )]
    pub nats_token: Option<Secret>,
    /// CA certificate (PEM) that NATS's server certificate must chain to; turns TLS on.
    #[arg(long, env = "BERTH_NATS_TLSCACERT", requires = "nats")]
    pub nats_tlscacert: Option<PathBuf>,
    /// Client certificate (PEM) for a NATS server that verifies clients (mutual TLS).
    #[arg(long, env = "BERTH_NATS_TLSCERT", requires_all = ["nats", "nats_tlskey"])]
    pub nats_tlscert: Option<PathBuf>,
    /// The private key (PEM) of --nats-tlscert.
    #[arg(long, env = "BERTH_NATS_TLSKEY", requires = "nats_tlscert")]
    pub nats_tlskey: Option<PathBuf>,
}

impl BusArgs {
    /// The credentials and TLS the flags ask for, with secret files read.
    pub fn nats_options(&self) -> Result<NatsOptions, DaemonError> {
        let credentials = if let Some(path) = &self.nats_creds {
            NatsCredentials::CredsFile(path.clone())
        } else if let Some(user) = &self.nats_user {
            let password = match (&self.nats_password_file, &self.nats_password) {
                (Some(path), _) => read_secret("--nats-password-file", path)?,
                (None, Some(password)) => password.clone(),
                (None, None) => return Err(DaemonError::NatsPasswordMissing),
            };
            NatsCredentials::UserPassword {
                user: user.clone(),
                password,
            }
        } else if let Some(path) = &self.nats_token_file {
            NatsCredentials::Token(read_secret("--nats-token-file", path)?)
        } else if let Some(token) = &self.nats_token {
            NatsCredentials::Token(token.clone())
        } else {
            NatsCredentials::None
        };
        let tls = NatsTls {
            ca: self.nats_tlscacert.clone(),
            client: self.nats_tlscert.clone().zip(self.nats_tlskey.clone()),
        };
        Ok(NatsOptions { credentials, tls })
    }
}

/// A secret kept in a file, as Kubernetes and compose mount them: the first line, without
/// its line ending.
fn read_secret(flag: &'static str, path: &std::path::Path) -> Result<Secret, DaemonError> {
    let text = std::fs::read_to_string(path).map_err(|source| DaemonError::SecretFile {
        flag,
        path: path.to_owned(),
        source,
    })?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(DaemonError::EmptySecret {
            flag,
            path: path.to_owned(),
        });
    }
    Ok(Secret::new(line))
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
    let bus = berth_bus::connect(bus.nats.as_deref(), &bus.nats_options()?).await?;
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

#[cfg(test)]
mod tests;
