//! `berth-runner` as its own process: one per host of the pool.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// berth's container runner for this host.
#[derive(Debug, Parser)]
#[command(name = "berth-runner", version)]
struct Args {
    /// gRPC address to serve: unix:///PATH or tcp://HOST:PORT. A unix socket by default:
    /// the runner's gRPC has no authentication yet and drives root on this host, so
    /// TCP is only for a network that only gateways reach (see compose/ and deploy/).
    #[arg(
        long,
        env = "BERTH_LISTEN",
        default_value = "unix:///run/berth/runner.sock"
    )]
    listen: berth_rpc::Endpoint,
    /// The address gateways should dial, when it is not --listen.
    #[arg(long, env = "BERTH_ADVERTISE")]
    advertise: Option<berth_rpc::Endpoint>,
    /// Directory for layers, containers, logs and networks of this host.
    #[arg(long, env = "BERTH_DATA_ROOT", default_value = "/var/lib/berth/runner")]
    data_root: PathBuf,
    /// This runner's name in the pool (default: made once, kept in the data root).
    #[arg(long, env = "BERTH_RUNNER_ID")]
    runner_id: Option<String>,
    /// A label for placement and `docker info`, KEY=VALUE (repeatable).
    #[arg(long = "label", value_parser = berth_daemon::parse_key_value)]
    labels: Vec<(String, String)>,
    /// The image store's gRPC address: where layers come from.
    #[arg(
        long,
        env = "BERTH_IMAGE_STORE",
        default_value = "tcp://127.0.0.1:7101"
    )]
    image_store: berth_rpc::Endpoint,
    #[command(flatten)]
    host: berth_runner::HostArgs,
    /// Seconds between heartbeats.
    #[arg(long, env = "BERTH_HEARTBEAT_SECONDS", default_value_t = 5)]
    heartbeat_seconds: u64,
    #[command(flatten)]
    bus: berth_daemon::BusArgs,
    #[command(flatten)]
    grpc_tls: berth_daemon::GrpcTlsArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.grpc_tls.apply()?;
    let process = berth_daemon::start("berth-runner", &args.bus).await?;
    let config = berth_runner::Config {
        listen: args.listen,
        advertise: args.advertise,
        data_root: args.data_root,
        runner_id: args.runner_id,
        labels: args.labels.into_iter().collect(),
        heartbeat_interval: Duration::from_secs(args.heartbeat_seconds.max(1)),
        image_store: args.image_store,
        host: args.host.clone(),
        bus: process.bus.clone(),
    };
    berth_runner::serve(config, process.shutdown.clone()).await?;
    Ok(())
}
