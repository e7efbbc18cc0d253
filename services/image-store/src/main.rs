//! `berth-image-store` as its own process.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;

/// berth's image store: blobs, manifests, tags, build cache.
#[derive(Debug, Parser)]
#[command(name = "berth-image-store", version)]
struct Args {
    /// gRPC address to serve: tcp://HOST:PORT or unix:///PATH.
    #[arg(long, env = "BERTH_LISTEN", default_value = "tcp://127.0.0.1:7101")]
    listen: berth_rpc::Endpoint,
    /// Directory for blobs and metadata.
    #[arg(
        long,
        env = "BERTH_DATA_ROOT",
        default_value = "/var/lib/berth/image-store"
    )]
    data_root: PathBuf,
    /// The NATS bus for image events; without it events stay in this process.
    #[arg(long, env = "BERTH_NATS_URL")]
    nats: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = berth_telemetry::init(&berth_telemetry::TelemetryConfig::from_env(
        "berth-image-store",
    ))?;
    let shutdown = berth_rpc::shutdown::on_signals()?;
    let bus = berth_bus::connect(args.nats.as_deref())
        .await
        .context("connecting to the bus")?;
    let config = berth_image_store::Config {
        listen: args.listen,
        data_root: args.data_root,
        bus,
    };
    berth_image_store::serve(config, shutdown).await?;
    Ok(())
}
