//! `berth-image-store` as its own process.

use std::path::PathBuf;

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
    #[command(flatten)]
    bus: berth_daemon::BusArgs,
    #[command(flatten)]
    grpc_tls: berth_daemon::GrpcTlsArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.grpc_tls.apply()?;
    let process = berth_daemon::start("berth-image-store", &args.bus).await?;
    let config = berth_image_store::Config {
        listen: args.listen,
        data_root: args.data_root,
        bus: process.bus.clone(),
    };
    berth_image_store::serve(config, process.shutdown.clone()).await?;
    Ok(())
}
