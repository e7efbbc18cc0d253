//! What every request handler can reach: the backing services and the runner pool.

use std::sync::Arc;

use berth_bus::Bus;
use berth_proto::v1::image_store_client::ImageStoreClient;
use berth_proto::v1::registry_proxy_client::RegistryProxyClient;
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
    pub registry_proxy: RegistryProxyClient<TracedChannel>,
}

impl AppState {
    /// A client for the image store (cheap: clients share one connection).
    pub fn image_store(&self) -> ImageStoreClient<TracedChannel> {
        self.image_store.clone()
    }

    /// A client for the registry proxy.
    pub fn registry_proxy(&self) -> RegistryProxyClient<TracedChannel> {
        self.registry_proxy.clone()
    }

    /// A client for the least loaded live runner.
    pub fn any_runner(&self) -> Result<RunnerClient<TracedChannel>, ApiError> {
        self.all_runners()?.into_iter().next().ok_or_else(no_runner)
    }

    /// Clients for every live runner, least loaded first; an error when there is none.
    pub fn all_runners(&self) -> Result<Vec<RunnerClient<TracedChannel>>, ApiError> {
        let live = self.runners.live();
        if live.is_empty() {
            return Err(no_runner());
        }
        live.into_iter()
            .map(|beat| {
                let endpoint: Endpoint = beat.address.parse().map_err(|e| {
                    ApiError::unavailable(format!(
                        "runner {} sent a bad address: {e}",
                        beat.runner_id
                    ))
                })?;
                let channel = berth_rpc::connect(&endpoint)
                    .map_err(|e| ApiError::unavailable(e.to_string()))?;
                Ok(RunnerClient::new(channel).max_decoding_message_size(64 << 20))
            })
            .collect()
    }

    /// The runner that holds container `id` (ID, prefix or name); Docker's "No such
    /// container" when none has it.
    pub async fn runner_for(&self, id: &str) -> Result<RunnerClient<TracedChannel>, ApiError> {
        let request = berth_proto::v1::InspectContainerRequest {
            container: id.to_owned(),
            size: false,
        };
        self.runner_holding(|mut r| {
            let request = request.clone();
            async move { r.inspect_container(request).await.map(drop) }
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No such container: {id}")))
    }

    /// The runner that holds exec instance `id`.
    pub async fn runner_for_exec(&self, id: &str) -> Result<RunnerClient<TracedChannel>, ApiError> {
        let request = berth_proto::v1::ExecInspectRequest {
            exec_id: id.to_owned(),
        };
        self.runner_holding(|mut r| {
            let request = request.clone();
            async move { r.exec_inspect(request).await.map(drop) }
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
    }

    /// The runner that holds volume `name`, or `None` when no runner has it.
    pub async fn runner_for_volume(
        &self,
        name: &str,
    ) -> Result<Option<RunnerClient<TracedChannel>>, ApiError> {
        let request = berth_proto::v1::InspectVolumeRequest {
            name: name.to_owned(),
        };
        self.runner_holding(|mut r| {
            let request = request.clone();
            async move { r.inspect_volume(request).await.map(drop) }
        })
        .await
    }

    /// Asks the runners in turn; the first whose `probe` succeeds holds the thing. A
    /// runner's NotFound means "ask the next"; any other error ends the search.
    async fn runner_holding<F, Fut>(
        &self,
        probe: F,
    ) -> Result<Option<RunnerClient<TracedChannel>>, ApiError>
    where
        F: Fn(RunnerClient<TracedChannel>) -> Fut,
        Fut: std::future::Future<Output = Result<(), tonic::Status>>,
    {
        for runner in self.all_runners()? {
            match probe(runner.clone()).await {
                Ok(()) => return Ok(Some(runner)),
                Err(s) if s.code() == tonic::Code::NotFound => continue,
                Err(s) => return Err(s.into()),
            }
        }
        Ok(None)
    }
}

fn no_runner() -> ApiError {
    ApiError::unavailable(
        "no runner is connected to this gateway: start berth-runner (or berthd) \
         and check that it reaches the same bus",
    )
}
