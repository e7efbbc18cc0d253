//! `berth-builder` as its own process; run several for a build farm.

use std::path::PathBuf;

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
    #[command(flatten)]
    bus: berth_daemon::BusArgs,
    #[command(flatten)]
    grpc_tls: berth_daemon::GrpcTlsArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.grpc_tls.apply()?;
    let process = berth_daemon::start("berth-builder", &args.bus).await?;
    let config = berth_builder::Config {
        listen: args.listen,
        scratch: args.scratch,
        image_store: args.image_store,
        registry_proxy: args.registry_proxy,
        bus: process.bus.clone(),
    };
    berth_builder::serve(config, process.shutdown.clone()).await?;
    Ok(())
}
