//! `berth-builder` as its own process; run several for a build farm.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;

/// berth's Dockerfile builder.
#[derive(Debug, Parser)]
#[command(name = "berth-builder", version)]
struct Args {
    /// gRPC address to serve: tcp://HOST:PORT or unix:///PATH.
    #[arg(long, env = "BERTH_LISTEN", default_value = "tcp://127.0.0.1:7103")]
    listen: berth_rpc::Endpoint,
    /// Scratch space for build steps; nothing in it must survive.
    #[arg(long, env = "BERTH_SCRATCH", default_value = "/var/lib/berth/builder")]
    scratch: PathBuf,
    /// The image store's gRPC address.
    #[arg(
        long,
        env = "BERTH_IMAGE_STORE",
        default_value = "tcp://127.0.0.1:7101"
    )]
    image_store: berth_rpc::Endpoint,
    /// The registry proxy's gRPC address.
    #[arg(
        long,
        env = "BERTH_REGISTRY_PROXY",
        default_value = "tcp://127.0.0.1:7102"
    )]
    registry_proxy: berth_rpc::Endpoint,
    /// The NATS bus for build events; without it events stay in this process.
    #[arg(long, env = "BERTH_NATS_URL")]
    nats: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry =
        berth_telemetry::init(&berth_telemetry::TelemetryConfig::from_env("berth-builder"))?;
    let shutdown = berth_rpc::shutdown::on_signals()?;
    let bus = berth_bus::connect(args.nats.as_deref())
        .await
        .context("connecting to the bus")?;
    let config = berth_builder::Config {
        listen: args.listen,
        scratch: args.scratch,
        image_store: args.image_store,
        registry_proxy: args.registry_proxy,
        bus,
    };
    berth_builder::serve(config, shutdown).await?;
    Ok(())
}
