//! The builder: Dockerfile in, OCI image out. Many builders form a farm that shares one
//! build cache, kept by the image store.
//!
//! Its scratch directory holds nothing that must survive: a builder can be killed and
//! replaced at any time. The RPCs are filled in by the build work; until then they answer
//! UNIMPLEMENTED.

use std::path::PathBuf;
use std::sync::Arc;

use berth_bus::Bus;
use berth_proto::v1::builder_server::{Builder, BuilderServer};
use berth_proto::v1::image_store_client::ImageStoreClient;
use berth_proto::v1::registry_proxy_client::RegistryProxyClient;
use berth_rpc::{Endpoint, Listener, TracedChannel};
use tokio_util::sync::CancellationToken;

/// What a builder needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Endpoint,
    /// Scratch space for build steps.
    pub scratch: PathBuf,
    pub image_store: Endpoint,
    /// Pulls base images that the image store lacks.
    pub registry_proxy: Endpoint,
    pub bus: Arc<dyn Bus>,
}

/// Why a builder could not run.
#[derive(Debug, thiserror::Error)]
pub enum BuilderError {
    #[error("cannot create the scratch directory {path}: {source}")]
    Scratch {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Rpc(#[from] berth_rpc::RpcError),
}

#[derive(Debug)]
struct BuilderService {
    _image_store: ImageStoreClient<TracedChannel>,
    _registry_proxy: RegistryProxyClient<TracedChannel>,
    _bus: Arc<dyn Bus>,
}

impl Builder for BuilderService {}

/// Serves until `shutdown` is cancelled.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), BuilderError> {
    berth_daemon::data_root::secure_dir(&config.scratch, berth_daemon::data_root::PRIVATE_DIR_MODE)
        .map_err(|e| BuilderError::Scratch {
            path: config.scratch.clone(),
            source: std::io::Error::other(e),
        })?;
    let service = BuilderServer::new(BuilderService {
        _image_store: ImageStoreClient::new(berth_rpc::connect(&config.image_store)?),
        _registry_proxy: RegistryProxyClient::new(berth_rpc::connect(&config.registry_proxy)?),
        _bus: config.bus,
    });
    let listener = Listener::bind(&config.listen).await?;
    berth_rpc::serve_service(listener, service, shutdown.cancelled_owned()).await?;
    Ok(())
}
