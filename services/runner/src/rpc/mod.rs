//! The runner's gRPC surface: the service, whose RPCs each go to the module of their
//! subject here (containers, exec, attach, observation, networks, volumes), which turns
//! requests into calls on the domain modules (`containers`, `networks`, `volumes`, host
//! facts) and their answers into replies. Some domain code still answers
//! `tonic::Status`; it moves behind typed errors mapped here as it is reworked.

mod attach;
mod containers;
mod convert;
mod exec;
mod image_store;
mod network_view;
mod networks;
mod observe;
mod status;
mod stdio;
mod volumes;

use std::path::PathBuf;

pub use convert::migrate_legacy_specs;
pub use image_store::ImageStore;

use berth_proto::v1::runner_server::Runner;
use berth_proto::v1::*;

use crate::rpc::containers as c;
use crate::rpc::networks as n;
use crate::rpc::volumes as v;

type Stream<T> = tonic::codegen::BoxStream<T>;
use tonic::{Request, Response, Status};

use crate::host::HostFacts;

/// Docker's filters as the domain takes them: name -> values.
fn filters(
    proto: std::collections::HashMap<String, StringList>,
) -> std::collections::HashMap<String, Vec<String>> {
    proto.into_iter().map(|(k, v)| (k, v.values)).collect()
}

/// A runtime call on the blocking pool, answered as a status.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("runner task failed: {e}")))?
}

#[derive(Debug)]
pub struct RunnerService {
    pub containers: std::sync::Arc<crate::containers::Containers>,
    pub execs: std::sync::Arc<crate::containers::exec::Execs>,
    pub runner_id: String,
    pub data_root: PathBuf,
    pub facts: HostFacts,
    pub labels: std::collections::HashMap<String, String>,
}

#[tonic::async_trait]
impl Runner for RunnerService {
    async fn create_container(
        &self,
        r: Request<CreateContainerRequest>,
    ) -> Result<Response<CreateContainerResponse>, Status> {
        c::create(&self.containers, r.into_inner()).await
    }
    async fn start_container(
        &self,
        r: Request<StartContainerRequest>,
    ) -> Result<Response<StartContainerResponse>, Status> {
        let r = r.into_inner();
        self.containers.adopted(&r.container).await;
        c::start(&self.containers, r).await
    }
    async fn stop_container(
        &self,
        r: Request<StopContainerRequest>,
    ) -> Result<Response<StopContainerResponse>, Status> {
        let r = r.into_inner();
        self.containers.adopted(&r.container).await;
        c::stop(&self.containers, r).await
    }
    async fn kill_container(
        &self,
        r: Request<KillContainerRequest>,
    ) -> Result<Response<KillContainerResponse>, Status> {
        let r = r.into_inner();
        self.containers.adopted(&r.container).await;
        c::kill(&self.containers, r).await
    }
    async fn wait_container(
        &self,
        r: Request<WaitContainerRequest>,
    ) -> Result<Response<Stream<WaitContainerResponse>>, Status> {
        let r = r.into_inner();
        self.containers.adopted(&r.container).await;
        c::wait(&self.containers, r).await
    }
    async fn remove_container(
        &self,
        r: Request<RemoveContainerRequest>,
    ) -> Result<Response<RemoveContainerResponse>, Status> {
        let r = r.into_inner();
        self.containers.adopted(&r.container).await;
        c::remove(&self.containers, r).await
    }
    async fn list_containers(
        &self,
        r: Request<ListContainersRequest>,
    ) -> Result<Response<ListContainersResponse>, Status> {
        c::list(&self.containers, r.into_inner()).await
    }
    async fn inspect_container(
        &self,
        r: Request<InspectContainerRequest>,
    ) -> Result<Response<InspectContainerResponse>, Status> {
        c::inspect(&self.containers, r.into_inner()).await
    }
    async fn attach(
        &self,
        r: Request<tonic::Streaming<AttachRequest>>,
    ) -> Result<Response<Stream<AttachResponse>>, Status> {
        crate::rpc::attach::attach(&self.containers, r.into_inner()).await
    }
    async fn pause_container(
        &self,
        r: Request<PauseContainerRequest>,
    ) -> Result<Response<PauseContainerResponse>, Status> {
        let r = r.into_inner();
        self.containers.adopted(&r.container).await;
        c::pause(&self.containers, r).await
    }
    async fn unpause_container(
        &self,
        r: Request<UnpauseContainerRequest>,
    ) -> Result<Response<UnpauseContainerResponse>, Status> {
        let r = r.into_inner();
        self.containers.adopted(&r.container).await;
        c::unpause(&self.containers, r).await
    }
    async fn resize(&self, r: Request<ResizeRequest>) -> Result<Response<ResizeResponse>, Status> {
        c::resize(&self.containers, r.into_inner()).await
    }
    async fn top(&self, r: Request<TopRequest>) -> Result<Response<TopResponse>, Status> {
        crate::rpc::observe::top(&self.containers, r.into_inner()).await
    }
    async fn stats(
        &self,
        r: Request<StatsRequest>,
    ) -> Result<Response<Stream<StatsSample>>, Status> {
        crate::rpc::observe::stats(&self.containers, r.into_inner()).await
    }
    async fn rename_container(
        &self,
        r: Request<RenameContainerRequest>,
    ) -> Result<Response<RenameContainerResponse>, Status> {
        crate::rpc::observe::rename(&self.containers, r.into_inner()).await
    }
    async fn exec_create(
        &self,
        r: Request<ExecCreateRequest>,
    ) -> Result<Response<ExecCreateResponse>, Status> {
        let r = r.into_inner();
        self.containers.adopted(&r.container).await;
        crate::rpc::exec::create(&self.containers, &self.execs, r).await
    }
    async fn exec_start(
        &self,
        r: Request<tonic::Streaming<ExecStartRequest>>,
    ) -> Result<Response<Stream<ExecStartResponse>>, Status> {
        crate::rpc::exec::start(&self.containers, &self.execs, r.into_inner()).await
    }
    async fn exec_inspect(
        &self,
        r: Request<ExecInspectRequest>,
    ) -> Result<Response<ExecInspectResponse>, Status> {
        crate::rpc::exec::inspect(&self.execs, r.into_inner())
    }
    async fn exec_resize(
        &self,
        r: Request<ExecResizeRequest>,
    ) -> Result<Response<ExecResizeResponse>, Status> {
        crate::rpc::exec::resize(&self.containers, &self.execs, r.into_inner()).await
    }
    async fn prune_containers(
        &self,
        r: Request<PruneContainersRequest>,
    ) -> Result<Response<PruneContainersResponse>, Status> {
        self.containers.all_adopted().await;
        c::prune(&self.containers, r.into_inner()).await
    }
    async fn restart_container(
        &self,
        r: Request<RestartContainerRequest>,
    ) -> Result<Response<RestartContainerResponse>, Status> {
        let r = r.into_inner();
        self.containers.adopted(&r.container).await;
        c::restart(&self.containers, r).await
    }
    async fn logs(&self, r: Request<LogsRequest>) -> Result<Response<Stream<LogEntry>>, Status> {
        c::logs(&self.containers, r.into_inner()).await
    }

    async fn create_volume(
        &self,
        r: Request<CreateVolumeRequest>,
    ) -> Result<Response<CreateVolumeResponse>, Status> {
        v::create(&self.containers, r.into_inner()).await
    }
    async fn remove_volume(
        &self,
        r: Request<RemoveVolumeRequest>,
    ) -> Result<Response<RemoveVolumeResponse>, Status> {
        v::remove(&self.containers, r.into_inner()).await
    }
    async fn list_volumes(
        &self,
        r: Request<ListVolumesRequest>,
    ) -> Result<Response<ListVolumesResponse>, Status> {
        v::list(&self.containers, r.into_inner()).await
    }
    async fn inspect_volume(
        &self,
        r: Request<InspectVolumeRequest>,
    ) -> Result<Response<InspectVolumeResponse>, Status> {
        v::inspect(&self.containers, r.into_inner()).await
    }
    async fn prune_volumes(
        &self,
        r: Request<PruneVolumesRequest>,
    ) -> Result<Response<PruneVolumesResponse>, Status> {
        v::prune(&self.containers, r.into_inner()).await
    }
    async fn create_network(
        &self,
        r: Request<CreateNetworkRequest>,
    ) -> Result<Response<CreateNetworkResponse>, Status> {
        n::create(&self.containers, r.into_inner()).await
    }
    async fn remove_network(
        &self,
        r: Request<RemoveNetworkRequest>,
    ) -> Result<Response<RemoveNetworkResponse>, Status> {
        n::remove(&self.containers, r.into_inner()).await
    }
    async fn list_networks(
        &self,
        r: Request<ListNetworksRequest>,
    ) -> Result<Response<ListNetworksResponse>, Status> {
        n::list(&self.containers, r.into_inner()).await
    }
    async fn inspect_network(
        &self,
        r: Request<InspectNetworkRequest>,
    ) -> Result<Response<InspectNetworkResponse>, Status> {
        n::inspect(&self.containers, r.into_inner()).await
    }
    async fn connect_network(
        &self,
        r: Request<ConnectNetworkRequest>,
    ) -> Result<Response<ConnectNetworkResponse>, Status> {
        let r = r.into_inner();
        self.containers.adopted(&r.container).await;
        n::connect(&self.containers, r).await
    }
    async fn disconnect_network(
        &self,
        r: Request<DisconnectNetworkRequest>,
    ) -> Result<Response<DisconnectNetworkResponse>, Status> {
        let r = r.into_inner();
        self.containers.adopted(&r.container).await;
        n::disconnect(&self.containers, r).await
    }
    async fn prune_networks(
        &self,
        r: Request<PruneNetworksRequest>,
    ) -> Result<Response<PruneNetworksResponse>, Status> {
        n::prune(&self.containers, r.into_inner()).await
    }

    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let f = &self.facts;
        let (total, running, paused) = self.containers.counts();
        Ok(Response::new(InfoResponse {
            runner_id: self.runner_id.clone(),
            hostname: f.hostname.clone(),
            kernel_version: f.kernel_version.clone(),
            operating_system: f.operating_system.clone(),
            os_type: "linux".to_owned(),
            architecture: f.architecture.clone(),
            ncpu: f.ncpu,
            mem_total_bytes: f.mem_total,
            cgroup_driver: "cgroupfs".to_owned(),
            cgroup_version: f.cgroup_version.as_docker_str().to_owned(),
            data_root: self.data_root.display().to_string(),
            storage_driver: "overlay2".to_owned(),
            labels: self.labels.clone(),
            warnings: f.warnings.clone(),
            containers_total: total,
            containers_running: running,
            containers_paused: paused,
            containers_stopped: total - running - paused,
            ..Default::default()
        }))
    }
}
