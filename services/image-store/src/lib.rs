//! The image store: berth's only owner of image content. Blobs (content addressed,
//! verified before they become visible), manifests, tags, the build cache index, leases
//! and garbage collection live here, in this service's own data root.
//!
//! Nothing else writes image content; other services read and write through its gRPC API.
//! The RPCs are filled in by the image-store work; until then they answer UNIMPLEMENTED.

use std::path::PathBuf;
use std::sync::Arc;

use berth_bus::Bus;
use berth_proto::v1::image_store_server::{ImageStore, ImageStoreServer};
use berth_rpc::{Endpoint, Listener};
use tokio_util::sync::CancellationToken;

/// What the image store needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Endpoint,
    /// Its own directory: blobs and the metadata database.
    pub data_root: PathBuf,
    pub bus: Arc<dyn Bus>,
}

/// Why the image store could not run.
#[derive(Debug, thiserror::Error)]
pub enum ImageStoreError {
    #[error("cannot create the data root {path}: {source}")]
    DataRoot {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Rpc(#[from] berth_rpc::RpcError),
}

#[derive(Debug)]
struct ImageStoreService {
    _bus: Arc<dyn Bus>,
}

impl ImageStore for ImageStoreService {}

/// Serves until `shutdown` is cancelled.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), ImageStoreError> {
    std::fs::create_dir_all(&config.data_root).map_err(|source| ImageStoreError::DataRoot {
        path: config.data_root.clone(),
        source,
    })?;
    let listener = Listener::bind(&config.listen).await?;
    let service = ImageStoreServer::new(ImageStoreService { _bus: config.bus });
    berth_rpc::serve_service(listener, service, shutdown.cancelled_owned()).await?;
    Ok(())
}
