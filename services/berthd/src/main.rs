//! `berthd`: all of berth in one process, the default for a single host.
//!
//! The five services run here exactly as they do apart; only the bus (in-process instead
//! of NATS) and the addresses (unix sockets under the data root instead of TCP) differ.
//! This binary is the one place that links the service crates together; the services
//! themselves still talk only over gRPC and the bus.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use berth_gateway::Host;
use berth_rpc::Endpoint;
use clap::Parser;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// berth, the whole engine in one process. Flags follow dockerd's where one exists.
#[derive(Debug, Parser)]
#[command(name = "berthd", version)]
struct Args {
    /// Root of all persistent state (images, containers, volumes).
    #[arg(long, env = "BERTH_DATA_ROOT", default_value = "/var/lib/berth")]
    data_root: PathBuf,
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
    host: berth_runner::HostArgs,
    #[command(flatten)]
    registries: berth_registry_proxy::RegistryArgs,
    /// A label for this host, KEY=VALUE (repeatable), shown by `docker info`.
    #[arg(long = "label", value_parser = berth_daemon::parse_key_value)]
    labels: Vec<(String, String)>,
}

/// How long a start may wait for its own runner to announce itself before reporting ready
/// anyway (the runner is in this process: it normally takes microseconds).
const RUNNER_ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(5);

fn socket(data_root: &Path, name: &str) -> Endpoint {
    Endpoint::Unix(data_root.join("run").join(format!("{name}.sock")))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    let args = Args::parse();
    let tcp_security = args.tls.resolve(&args.hosts)?;
    // Without its helpers the runner could start no container: say so now, with the
    // command that builds them, rather than at the first `docker run`.
    berth_runner::locate_helpers().context("berthd cannot run containers")?;
    // berthd is one process: its services share the in-process bus (no --nats).
    let process = berth_daemon::start("berthd", &berth_daemon::BusArgs::default()).await?;
    let shutdown = process.shutdown.clone();
    let root = std::path::absolute(&args.data_root).context("resolving --data-root")?;
    berth_daemon::data_root::secure_tree_top(&root, berth_daemon::data_root::ROOT_DIR_MODE)?;
    // Before any socket is touched: a second berthd on this root must leave the live
    // one's sockets alone.
    let _lock = berth_daemon::data_root::lock(&root, "berthd")?;
    berth_daemon::data_root::secure_dir(
        &root.join("run"),
        berth_daemon::data_root::PRIVATE_DIR_MODE,
    )?;

    let bus = process.bus.clone();
    let image_store = socket(&root, "image-store");
    let registry_proxy = socket(&root, "registry-proxy");

    let mut services: JoinSet<(&'static str, anyhow::Result<()>)> = JoinSet::new();
    let stop = shutdown.clone();
    let config = berth_image_store::Config {
        listen: image_store.clone(),
        data_root: root.join("image-store"),
        bus: bus.clone(),
    };
    services.spawn(async move {
        (
            "image-store",
            berth_image_store::serve(config, stop)
                .await
                .map_err(Into::into),
        )
    });
    let stop = shutdown.clone();
    let config = berth_registry_proxy::Config {
        listen: registry_proxy.clone(),
        image_store: image_store.clone(),
        bus: bus.clone(),
        transport: args.registries.transport(),
    };
    services.spawn(async move {
        (
            "registry-proxy",
            berth_registry_proxy::serve(config, stop)
                .await
                .map_err(Into::into),
        )
    });
    let stop = shutdown.clone();
    let config = berth_builder::Config {
        listen: socket(&root, "builder"),
        scratch: root.join("builder"),
        image_store: image_store.clone(),
        registry_proxy: registry_proxy.clone(),
        bus: bus.clone(),
    };
    services.spawn(async move {
        (
            "builder",
            berth_builder::serve(config, stop).await.map_err(Into::into),
        )
    });
    let stop = shutdown.clone();
    let config = berth_runner::Config {
        listen: socket(&root, "runner"),
        advertise: None,
        data_root: root.join("runner"),
        runner_id: None,
        labels: args.labels.into_iter().collect(),
        heartbeat_interval: Duration::from_secs(5),
        image_store: image_store.clone(),
        host: args.host.clone(),
        bus: bus.clone(),
    };
    services.spawn(async move {
        (
            "runner",
            berth_runner::serve(config, stop).await.map_err(Into::into),
        )
    });

    let gateway = berth_gateway::Gateway::bind(
        berth_gateway::Config {
            hosts: args.hosts.clone(),
            tcp_security,
            health_listen: None,
            image_store: image_store.clone(),
            registry_proxy: registry_proxy.clone(),
            bus,
        },
        &shutdown,
    )
    .await?;
    // Containers reach the host at their bridge's gateway: keep them off the API.
    let guarded = gateway.exposed_tcp_ports();
    if !guarded.is_empty() {
        berth_network::guard_host_ports(&args.host.bridge, &guarded)
            .await
            .context("keeping containers off the Docker API's TCP ports")?;
    }
    if !gateway.wait_for_runner(RUNNER_ANNOUNCE_TIMEOUT).await {
        tracing::warn!("the runner has not announced itself; containers cannot run yet");
    }
    let stop = shutdown.clone();
    services.spawn(async move { ("gateway", gateway.serve(stop).await.map_err(Into::into)) });

    let hosts: Vec<String> = args.hosts.iter().map(ToString::to_string).collect();
    tracing::info!(
        data_root = %root.display(),
        hosts = %hosts.join(","),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "berthd is ready"
    );

    let stopped = supervise(services, shutdown).await;
    if !guarded.is_empty()
        && let Err(e) = berth_network::unguard_host_ports(&args.host.bridge).await
    {
        tracing::warn!(error = %e, "cannot remove the rules guarding the API's TCP ports");
    }
    stopped
}

/// Waits for every service to stop. If one stops on its own, the others are stopped too:
/// half an engine is worse than none, and the process manager can restart a whole one.
async fn supervise(
    mut services: JoinSet<(&'static str, anyhow::Result<()>)>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut first_error = None;
    while let Some(done) = services.join_next().await {
        let (name, result) = done.context("a service task panicked")?;
        if !shutdown.is_cancelled() {
            tracing::error!(service = name, "stopped on its own; stopping berthd");
            shutdown.cancel();
        }
        if let Err(e) = result {
            tracing::error!(service = name, error = %format!("{e:#}"), "failed");
            first_error.get_or_insert(e.context(format!("{name} failed")));
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
