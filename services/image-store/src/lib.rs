//! The image store: berth's only owner of image content. Blobs (content addressed,
//! verified before they become visible), manifests, tags, the build cache index, leases
//! and garbage collection live here, in this service's own data root.
//!
//! Nothing else writes image content; other services read and write through its gRPC API.

mod blobs;
mod bridge;
mod error;
mod meta;
mod names;
mod removal;
mod service;
mod store;
mod transfer;
mod views;

use std::path::PathBuf;
use std::sync::Arc;

use berth_bus::Bus;
use berth_proto::v1::image_store_server::ImageStoreServer;
use berth_rpc::{Endpoint, Listener};
use tokio_util::sync::CancellationToken;

pub use error::StoreError;

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
    #[error("cannot open the image store in {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    Rpc(#[from] berth_rpc::RpcError),
}

/// The largest single message the store accepts or sends: a manifest or a config.
/// Bulk data travels as streams of chunks well below it.
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Serves until `shutdown` is cancelled.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), ImageStoreError> {
    let root = config.data_root.clone();
    let store = tokio::task::spawn_blocking(move || {
        use berth_daemon::data_root::{PRIVATE_DIR_MODE, secure_state_files, secure_tree_top};
        let private = |e| StoreError::io(root.clone(), std::io::Error::other(e));
        secure_tree_top(&root, PRIVATE_DIR_MODE).map_err(private)?;
        let store = store::Store::open(&root, config.bus)?;
        secure_state_files(&root, &["meta.redb"]).map_err(private)?;
        Ok(store)
    })
    .await
    .map_err(|e| ImageStoreError::Open {
        path: config.data_root.clone(),
        source: StoreError::InvalidArgument(e.to_string()),
    })?
    .map_err(|source| ImageStoreError::Open {
        path: config.data_root.clone(),
        source,
    })?;
    let listener = Listener::bind(&config.listen).await?;
    let service = ImageStoreServer::new(service::ImageStoreService::new(Arc::new(store)))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    berth_rpc::serve_service(listener, service, shutdown.cancelled_owned()).await?;
    Ok(())
}
