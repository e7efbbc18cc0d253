//! `berth-registry-proxy` as its own process.

use anyhow::Context as _;
use clap::Parser;

/// berth's gateway to upstream registries.
#[derive(Debug, Parser)]
#[command(name = "berth-registry-proxy", version)]
struct Args {
    /// gRPC address to serve: tcp://HOST:PORT or unix:///PATH.
    #[arg(long, env = "BERTH_LISTEN", default_value = "tcp://127.0.0.1:7102")]
    listen: berth_rpc::Endpoint,
    /// The image store's gRPC address.
    #[arg(
        long,
        env = "BERTH_IMAGE_STORE",
        default_value = "tcp://127.0.0.1:7101"
    )]
    image_store: berth_rpc::Endpoint,
    /// The NATS bus for progress and image events; without it events stay in this process.
    #[arg(long, env = "BERTH_NATS_URL")]
    nats: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = berth_telemetry::init(&berth_telemetry::TelemetryConfig::from_env(
        "berth-registry-proxy",
    ))?;
    let shutdown = berth_rpc::shutdown::on_signals()?;
    let bus = berth_bus::connect(args.nats.as_deref())
        .await
        .context("connecting to the bus")?;
    let config = berth_registry_proxy::Config {
        listen: args.listen,
        image_store: args.image_store,
        bus,
    };
    berth_registry_proxy::serve(config, shutdown).await?;
    Ok(())
}
