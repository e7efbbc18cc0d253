//! The runner: the container lifecycle on one host. Many runners form a pool; gateways
//! find them through their heartbeats on the bus and place containers on them.
//!
//! A runner owns its host's unpacked layers, containers, logs and networks, all under its
//! data root. It never stores image content; layers come from the image store.
//!
//! Layout: `rpc` is the gRPC surface and the only module that knows the wire; it turns
//! requests into calls on the domain modules and their typed errors into statuses.
//! `containers` owns the records and every container verb and reaches the host through
//! [`containers::runtime::ContainerRuntime`] and its images through
//! [`containers::images::ImageSource`]; `networks` sees containers only through
//! `networks::Members`; `volumes` and `host` stand alone. `tests/layering.rs` fails the
//! build's tests when a domain module names gRPC types or the dependencies turn around.

pub mod containers;
mod error;
mod host;
mod naming;
mod networks;
mod rpc;
mod table;
pub mod volumes;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_bus::Bus;
use berth_proto::v1::runner_server::RunnerServer;
use berth_rpc::{Endpoint, Listener};
use tokio_util::sync::CancellationToken;

pub use host::{CgroupVersion, HostFacts};
/// The image store over gRPC, as containers and snapshots read it.
pub use rpc::ImageStore;

/// Where a runner finds `berth-monitor` and `berth-spawn`; for binaries that start one
/// to refuse to start without them.
pub use berth_runtime::locate_helpers;

/// What a runner needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Endpoint,
    /// The address gateways dial, when it differs from `listen` (e.g. `0.0.0.0` or NAT).
    pub advertise: Option<Endpoint>,
    pub data_root: PathBuf,
    /// A stable name in the pool; by default one is made once and kept in the data root.
    pub runner_id: Option<String>,
    /// Operator labels, shown by `docker info` and used for placement.
    pub labels: HashMap<String, String>,
    pub heartbeat_interval: Duration,
    /// The image store's gRPC address: where layers come from.
    pub image_store: Endpoint,
    /// Where containers' cgroups and networks go on this host.
    pub host: HostArgs,
    pub bus: Arc<dyn Bus>,
}

/// A runner's place on its host, as flags of both `berth-runner` and `berthd`: where
/// container cgroups go, and the bridges and subnets of its networks. Runners sharing a
/// host need distinct bridges, addresses and pools.
#[derive(Debug, Clone, clap::Args)]
pub struct HostArgs {
    /// The cgroup containers go under, as dockerd's --cgroup-parent (default: below the
    /// runner's own cgroup).
    #[arg(long, env = "BERTH_CGROUP_PARENT")]
    pub cgroup_parent: Option<String>,
    /// The bridge of the default network, as dockerd's --bridge.
    #[arg(long, env = "BERTH_BRIDGE", default_value = "berth0")]
    pub bridge: String,
    /// The bridge's address and the subnet's prefix length, as dockerd's --bip.
    #[arg(long, env = "BERTH_BIP", default_value = "172.30.0.1/16")]
    pub bip: String,
    /// Where user-defined networks get their subnets when `docker network create` names
    /// none: BASE/PREFIX[,size=N], carved into /N subnets (default /24), skipping those
    /// that overlap a network or a route of the host (dockerd's --default-address-pool).
    #[arg(
        long,
        env = "BERTH_NETWORK_POOL",
        default_value = "10.210.0.0/16",
        value_parser = berth_network::SubnetPool::parse
    )]
    pub network_pool: berth_network::SubnetPool,
    /// The most TCP connections the userland proxy relays at once per published port;
    /// past it new clients are closed at once.
    #[arg(long, env = "BERTH_PROXY_MAX_CONNECTIONS", default_value_t = berth_network::DEFAULT_TCP_MAX_CONNECTIONS)]
    pub proxy_max_connections: usize,
    /// Seconds a proxied TCP connection may stay idle (no byte either way) before the
    /// proxy closes it.
    #[arg(long, env = "BERTH_PROXY_IDLE_TIMEOUT", default_value_t = berth_network::DEFAULT_TCP_IDLE_TIMEOUT.as_secs())]
    pub proxy_idle_timeout: u64,
    /// How many times its compressed size a layer may unpack to before it is refused as
    /// a decompression bomb (real layers compress 2-10x; zeros compress 1000x).
    #[arg(long, env = "BERTH_LAYER_MAX_EXPANSION", default_value_t = 100)]
    pub layer_max_expansion: u64,
    /// What any layer may unpack to whatever its compressed size, so small layers of
    /// very compressible files still unpack (as --memory: 512m, 2g, ...).
    #[arg(
        long,
        env = "BERTH_LAYER_UNPACK_FLOOR",
        default_value = "1g",
        value_parser = berth_runtime::config::parse_size
    )]
    pub layer_unpack_floor: u64,
    /// Default json-file options for containers that set none, as dockerd's --log-opt
    /// (repeatable): max-size=10m, max-file=3. Without them logs grow without bound, as
    /// with Docker's defaults.
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub log_opts: Vec<String>,
}

/// Why a runner could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot use the data root {path}: {source}")]
    DataRoot {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Rpc(#[from] berth_rpc::RpcError),
    #[error("cannot announce the runner on the bus: {0}")]
    Bus(#[from] berth_bus::BusError),
    #[error("cannot set up container state in {path}: {message}")]
    State { path: PathBuf, message: String },
    #[error("cannot run containers: {0}")]
    Helpers(#[source] berth_runtime::Error),
}

/// Serves until `shutdown` is cancelled, announcing itself on the bus meanwhile.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), RunnerError> {
    let data_err = |source| RunnerError::DataRoot {
        path: config.data_root.clone(),
        source,
    };
    let secure_err = |e: berth_daemon::data_root::DataRootError| data_err(std::io::Error::other(e));
    berth_daemon::data_root::secure_tree_top(
        &config.data_root,
        berth_daemon::data_root::PRIVATE_DIR_MODE,
    )
    .map_err(secure_err)?;
    for dir in ["containers", "snapshots", "volumes", "runtime"] {
        berth_daemon::data_root::secure_dir(
            &config.data_root.join(dir),
            berth_daemon::data_root::PRIVATE_DIR_MODE,
        )
        .map_err(secure_err)?;
    }
    let runner_id = match config.runner_id.clone() {
        Some(id) => id,
        None => stable_id(&config.data_root).map_err(data_err)?,
    };
    berth_network::ProxyOptions::set_process_default(berth_network::ProxyOptions {
        tcp_max_connections: config.host.proxy_max_connections.max(1),
        tcp_idle_timeout: Duration::from_secs(config.host.proxy_idle_timeout.max(1)),
        ..berth_network::ProxyOptions::builtin()
    });
    let facts = HostFacts::read(std::path::Path::new("/"));
    let network_config = networks::NetworkConfig {
        bridge: config.host.bridge.clone(),
        bip: config.host.bip.clone(),
        pool: config.host.network_pool,
    };
    let networks = networks::Networks::open(&network_config, &config.data_root, config.bus.clone())
        .await
        .map(Arc::new)
        .map_err(|e| RunnerError::State {
            path: config.data_root.clone(),
            message: e.to_string(),
        })?;
    let containers = Arc::new(open_containers(
        &config,
        &config.data_root,
        networks.clone(),
    )?);
    secure_state(&config.data_root).map_err(secure_err)?;
    // Serve first and re-adopt meanwhile: with hundreds of containers, re-adoption takes
    // long enough that the pool would see no runner at all. Calls about a container
    // that is not re-adopted yet wait for it.
    containers.sweep_unrecorded().await;
    let found = containers.begin_readopt();
    let listener = Listener::bind(&config.listen).await?;
    {
        let (containers, shutdown) = (containers.clone(), shutdown.clone());
        tokio::spawn(async move {
            containers.readopt(found).await;
            tracing::info!("containers re-adopted");
            if let Err(e) = containers.start_snapshot_gc(shutdown).await {
                tracing::warn!(error = %e, "unused snapshots will not be removed");
            }
        });
    }
    let address = config
        .advertise
        .unwrap_or_else(|| listener.endpoint().clone())
        .to_string();
    let beats = host::heartbeat::start(
        config.bus.clone(),
        runner_id.clone(),
        address,
        config.heartbeat_interval,
        &facts,
        shutdown.clone(),
    )
    .await?;
    let service = RunnerServer::new(rpc::RunnerService {
        containers,
        execs: Arc::default(),
        runner_id,
        data_root: config.data_root,
        facts,
        labels: config.labels,
    });
    let served = berth_rpc::serve_service(listener, service, shutdown.cancelled_owned()).await;
    // The proxies die with the process: the DNAT rules go too, so no port stays open
    // with nothing behind it answering for the runner; re-adoption adds them again.
    networks.unpublish_all().await;
    let _ = beats.await;
    served?;
    Ok(())
}

/// Makes the runner's databases and each container's spec and state root's alone: they
/// hold containers' environments. Files written from now on are created 0600; this
/// fixes those an older berth left readable.
fn secure_state(root: &std::path::Path) -> Result<(), berth_daemon::data_root::DataRootError> {
    use berth_daemon::data_root::secure_state_files;
    use berth_monitor::state::files;
    secure_state_files(
        root,
        &[
            "containers.redb",
            "networks.redb",
            "volumes.redb",
            "runner-id",
        ],
    )?;
    // The runtime's state directory per container: the OCI spec and berth.json.
    let Ok(entries) = std::fs::read_dir(root.join("runtime")) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            secure_state_files(
                &entry.path(),
                &[files::SPEC, files::MONITOR_SPEC, files::STATE, files::EXIT],
            )?;
        }
    }
    Ok(())
}

fn open_containers(
    config: &Config,
    root: &std::path::Path,
    networks: Arc<networks::Networks>,
) -> Result<containers::Containers, RunnerError> {
    let state_err = |e: &dyn std::fmt::Display| RunnerError::State {
        path: root.to_owned(),
        message: e.to_string(),
    };
    let runtime =
        berth_runtime::Runtime::new(root.join("runtime"), config.host.cgroup_parent.clone())
            .map_err(|e| state_err(&e))?;
    runtime.check_helpers().map_err(RunnerError::Helpers)?;
    let snapshots = berth_snapshots::Snapshots::open(
        &root.join("snapshots"),
        berth_snapshots::UnpackCap {
            max_expansion: config.host.layer_max_expansion,
            floor: config.host.layer_unpack_floor,
        },
    )
    .map_err(|e| state_err(&e))?;
    let records = containers::record::Records::open(&root.join("containers.redb"))
        .map_err(|e| state_err(&e))?;
    rpc::migrate_legacy_specs(&records).map_err(|e| state_err(&e))?;
    let volumes = volumes::Volumes::open(root).map_err(|e| state_err(&e))?;
    let image_store = berth_proto::v1::image_store_client::ImageStoreClient::new(
        berth_rpc::connect(&config.image_store)?,
    )
    .max_decoding_message_size(64 << 20);
    Ok(containers::Containers::new(containers::Parts {
        runtime: Arc::new(containers::runtime::HostRuntime(runtime)),
        snapshots,
        records,
        volumes,
        images: Arc::new(rpc::ImageStore(image_store)),
        root: root.join("containers"),
        networks,
        bus: config.bus.clone(),
        log_defaults: containers::logs::parse_log_opts(&config.host.log_opts)
            .map_err(|e| state_err(&e))?,
    }))
}

/// 64 hex characters, Docker's form for container IDs and anonymous volume names;
/// uniqueness, not secrecy, is what matters.
pub(crate) fn random_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Unix nanoseconds now.
pub(crate) fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default()
}

/// The runner's ID, made on first start and kept, so a restarted runner is the same
/// member of the pool and finds its containers again.
fn stable_id(data_root: &std::path::Path) -> std::io::Result<String> {
    let path = data_root.join("runner-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        Ok(_) | Err(_) => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let tmp = data_root.join("runner-id.tmp");
            std::fs::write(&tmp, &id)?;
            std::fs::rename(&tmp, &path)?;
            Ok(id)
        }
    }
}
