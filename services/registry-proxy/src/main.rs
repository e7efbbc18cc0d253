//! `berth-registry-proxy` as its own process.

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
    #[command(flatten)]
    bus: berth_daemon::BusArgs,
    #[command(flatten)]
    grpc_tls: berth_daemon::GrpcTlsArgs,
    #[command(flatten)]
    registries: berth_registry_proxy::RegistryArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.grpc_tls.apply()?;
    let process = berth_daemon::start("berth-registry-proxy", &args.bus).await?;
    let config = berth_registry_proxy::Config {
        listen: args.listen,
        image_store: args.image_store,
        bus: process.bus.clone(),
        transport: args.registries.transport(),
    };
    berth_registry_proxy::serve(config, process.shutdown.clone()).await?;
    Ok(())
}
