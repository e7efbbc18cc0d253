//! The observation RPCs: `docker top`, `docker stats` and `docker rename`, over
//! [`Containers`]' verbs.

use std::sync::Arc;
use std::time::Duration;

use berth_proto::v1::*;
use tonic::{Response, Status};

use crate::containers::Containers;
use crate::containers::observe::Sample;

type Stream<T> = tonic::codegen::BoxStream<T>;

pub async fn top(c: &Arc<Containers>, r: TopRequest) -> Result<Response<TopResponse>, Status> {
    let (titles, rows) = c.top(&r.container, &r.ps_args).await?;
    Ok(Response::new(TopResponse {
        titles,
        processes: rows
            .into_iter()
            .map(|values| StringList { values })
            .collect(),
    }))
}

fn stats_sample(s: Sample) -> StatsSample {
    let read = s
        .read
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    StatsSample {
        read: Some(prost_types::Timestamp {
            seconds: read.as_secs() as i64,
            nanos: read.subsec_nanos() as i32,
        }),
        cpu: Some(CpuStats {
            total_usage: s.cpu_usage_ns,
            system_cpu_usage: s.system_cpu_ns,
            online_cpus: s.online_cpus,
            ..Default::default()
        }),
        memory: Some(MemoryStats {
            usage: s.memory_usage,
            limit: s.memory_limit,
            ..Default::default()
        }),
        pids: Some(PidsStats {
            current: s.pids_current,
            limit: s.pids_limit,
        }),
        ..Default::default()
    }
}

/// One sample (`stream` false), or one a second until the container exits or the client
/// goes away. The gateway pairs consecutive samples into Docker's cpu/precpu.
pub async fn stats(
    c: &Arc<Containers>,
    r: StatsRequest,
) -> Result<Response<Stream<StatsSample>>, Status> {
    let record = c.find(&r.container)?;
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let this = c.clone();
    tokio::spawn(async move {
        loop {
            let s = this.sample(&record.id).await;
            let failed = s.is_err();
            let s = s.map(stats_sample).map_err(Status::from);
            if tx.send(s).await.is_err() || failed || !r.stream {
                return;
            }
            if !this.is_running(&record.id) {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(Response::new(Box::pin(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    )))
}

pub async fn rename(
    c: &Arc<Containers>,
    r: RenameContainerRequest,
) -> Result<Response<RenameContainerResponse>, Status> {
    c.rename(&r.container, &r.new_name).await?;
    Ok(Response::new(RenameContainerResponse {}))
}
