//! `berth-gateway`: the Docker API as its own process, for the distributed shape.

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
    #[command(flatten)]
    tls: berth_gateway::TlsArgs,
    #[command(flatten)]
    bus: berth_daemon::BusArgs,
    #[command(flatten)]
    grpc_tls: berth_daemon::GrpcTlsArgs,
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
    /// Also serve gRPC health here (for orchestrators' probes), e.g. tcp://0.0.0.0:7100.
    #[arg(long, env = "BERTH_HEALTH_LISTEN")]
    health_listen: Option<berth_rpc::Endpoint>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.grpc_tls.apply()?;
    let tcp_security = args.tls.resolve(&args.hosts)?;
    let process = berth_daemon::start("berth-gateway", &args.bus).await?;
    let config = berth_gateway::Config {
        hosts: args.hosts,
        tcp_security,
        health_listen: args.health_listen,
        image_store: args.image_store,
        registry_proxy: args.registry_proxy,
        bus: process.bus.clone(),
    };
    berth_gateway::serve(config, process.shutdown.clone()).await?;
    Ok(())
}
