//! `berth-gateway`: the Docker API as its own process, for the distributed shape.

use anyhow::Context as _;
use berth_gateway::Host;
use clap::Parser;

/// The Docker Engine API for a berth cluster.
#[derive(Debug, Parser)]
#[command(name = "berth-gateway", version)]
struct Args {
    /// Where to serve the Docker API (repeatable): unix:///PATH or tcp://ADDR[:PORT].
    #[arg(
        short = 'H',
        long = "host",
        env = "BERTH_HOST",
        default_value = "unix:///run/berth/berth.sock"
    )]
    hosts: Vec<Host>,
    /// The NATS bus (runner heartbeats, events). Without it the gateway hears only itself,
    /// which is enough to try it alone but finds no runners.
    #[arg(long, env = "BERTH_NATS_URL")]
    nats: Option<String>,
    /// The image store's gRPC address.
    #[arg(
        long,
        env = "BERTH_IMAGE_STORE",
        default_value = "tcp://127.0.0.1:7101"
    )]
    image_store: berth_rpc::Endpoint,
    /// Also serve gRPC health here (for orchestrators' probes), e.g. tcp://0.0.0.0:7100.
    #[arg(long, env = "BERTH_HEALTH_LISTEN")]
    health_listen: Option<berth_rpc::Endpoint>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry =
        berth_telemetry::init(&berth_telemetry::TelemetryConfig::from_env("berth-gateway"))?;
    let shutdown = berth_rpc::shutdown::on_signals()?;
    let bus = berth_bus::connect(args.nats.as_deref())
        .await
        .context("connecting to the bus")?;
    let config = berth_gateway::Config {
        hosts: args.hosts,
        health_listen: args.health_listen,
        image_store: args.image_store,
        bus,
    };
    berth_gateway::serve(config, shutdown).await?;
    Ok(())
}
