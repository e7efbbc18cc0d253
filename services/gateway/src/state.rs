//! What every request handler can reach: the backing services and the runner pool.

use std::sync::Arc;

use berth_bus::Bus;
use berth_proto::v1::image_store_client::ImageStoreClient;
use berth_proto::v1::runner_client::RunnerClient;
use berth_rpc::{Endpoint, TracedChannel};

use crate::error::ApiError;
use crate::runner_pool::RunnerPool;

/// Shared by all handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub bus: Arc<dyn Bus>,
    pub runners: RunnerPool,
    pub image_store: ImageStoreClient<TracedChannel>,
}

impl AppState {
    /// A client for the image store (cheap: clients share one connection).
    pub fn image_store(&self) -> ImageStoreClient<TracedChannel> {
        self.image_store.clone()
    }

    /// A client for the least loaded live runner.
    pub fn any_runner(&self) -> Result<RunnerClient<TracedChannel>, ApiError> {
        let beat = self.runners.live().into_iter().next().ok_or_else(|| {
            ApiError::unavailable(
                "no runner is connected to this gateway: start berth-runner (or berthd) \
                 and check that it reaches the same bus",
            )
        })?;
        let endpoint: Endpoint = beat.address.parse().map_err(|e| {
            ApiError::unavailable(format!("runner {} sent a bad address: {e}", beat.runner_id))
        })?;
        let channel =
            berth_rpc::connect(&endpoint).map_err(|e| ApiError::unavailable(e.to_string()))?;
        Ok(RunnerClient::new(channel))
    }
}
