//! The runner's gRPC service. So far: host facts; the container lifecycle comes with the
//! runtime work and answers UNIMPLEMENTED until then.

use std::path::PathBuf;

use berth_proto::v1::runner_server::Runner;
use berth_proto::v1::{InfoRequest, InfoResponse};
use tonic::{Request, Response, Status};

use crate::host::HostFacts;

#[derive(Debug)]
pub struct RunnerService {
    pub runner_id: String,
    pub data_root: PathBuf,
    pub facts: HostFacts,
    pub labels: std::collections::HashMap<String, String>,
}

#[tonic::async_trait]
impl Runner for RunnerService {
    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let f = &self.facts;
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
            ..Default::default()
        }))
    }
}
