//! The registry proxy: berth's only door to upstream registries. Pulls, pushes, logins and
//! searches go through it; credentials stay in its memory and never touch disk.
//!
//! It stores no image content itself: what it pulls it writes to the image store, what it
//! pushes it reads from there. The RPCs are filled in by the registry work; until then they
//! answer UNIMPLEMENTED.

use std::sync::Arc;

use berth_bus::Bus;
use berth_proto::v1::image_store_client::ImageStoreClient;
use berth_proto::v1::registry_proxy_server::{RegistryProxy, RegistryProxyServer};
use berth_rpc::{Endpoint, Listener, TracedChannel};
use tokio_util::sync::CancellationToken;

/// What the registry proxy needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Endpoint,
    /// Where pulled content is written and pushed content read.
    pub image_store: Endpoint,
    pub bus: Arc<dyn Bus>,
}

/// Why the registry proxy could not run.
#[derive(Debug, thiserror::Error)]
pub enum RegistryProxyError {
    #[error(transparent)]
    Rpc(#[from] berth_rpc::RpcError),
}

#[derive(Debug)]
struct RegistryProxyService {
    _image_store: ImageStoreClient<TracedChannel>,
    _bus: Arc<dyn Bus>,
}

impl RegistryProxy for RegistryProxyService {}

/// Serves until `shutdown` is cancelled.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), RegistryProxyError> {
    let image_store = ImageStoreClient::new(berth_rpc::connect(&config.image_store)?);
    let listener = Listener::bind(&config.listen).await?;
    let service = RegistryProxyServer::new(RegistryProxyService {
        _image_store: image_store,
        _bus: config.bus,
    });
    berth_rpc::serve_service(listener, service, shutdown.cancelled_owned()).await?;
    Ok(())
}
