//! The container RPCs: each turns a request into a call on [`Containers`].

use std::sync::Arc;
use std::time::Duration;

use berth_proto::v1::*;
use tonic::{Response, Status};

use crate::containers::Containers;
use crate::containers::lifecycle::{PruneFilter, StopOptions};
use crate::containers::logs::{LogCursor, LogFilter, LogLine, LogStream};
use crate::containers::query::{ContainerView, Phase};
use crate::rpc::blocking;

type Stream<T> = tonic::codegen::BoxStream<T>;

fn timestamp_of(rfc3339: &str) -> Option<prost_types::Timestamp> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| prost_types::Timestamp {
            seconds: t.unix_timestamp(),
            nanos: t.nanosecond() as i32,
        })
}

pub async fn create(
    c: &Arc<Containers>,
    r: CreateContainerRequest,
) -> Result<Response<CreateContainerResponse>, Status> {
    let spec = r
        .spec
        .ok_or_else(|| Status::invalid_argument("spec is required"))?;
    let (id, warnings) = c.create(spec.into()).await?;
    c.emit("create", &id, &[]).await;
    Ok(Response::new(CreateContainerResponse { id, warnings }))
}

pub async fn remove(
    c: &Arc<Containers>,
    r: RemoveContainerRequest,
) -> Result<Response<RemoveContainerResponse>, Status> {
    let record = c.find(&r.container)?;
    c.remove(&record, r.force).await?;
    if r.volumes && !record.auto_remove {
        c.remove_anonymous_volumes(&record).await;
    }
    Ok(Response::new(RemoveContainerResponse {}))
}

fn status_of(phase: Phase) -> ContainerStatus {
    match phase {
        Phase::Created => ContainerStatus::Created,
        Phase::Running => ContainerStatus::Running,
        Phase::Paused => ContainerStatus::Paused,
        Phase::Restarting => ContainerStatus::Restarting,
        Phase::Exited => ContainerStatus::Exited,
    }
}

fn summary(v: ContainerView, networks: &[crate::networks::NetworkRecord]) -> ContainerSummary {
    let (rec, st) = (&v.record, v.state.as_ref());
    ContainerSummary {
        id: rec.id.clone(),
        names: vec![rec.name.clone()],
        image: rec.image.clone(),
        image_id: Some(Digest {
            value: rec.image_id.clone(),
        }),
        command: rec.args.join(" "),
        created: Some(prost_types::Timestamp {
            seconds: rec.created / 1_000_000_000,
            nanos: 0,
        }),
        labels: v
            .spec
            .as_ref()
            .map(|s| s.labels.clone())
            .unwrap_or_default(),
        state: status_of(v.phase) as i32,
        exit_code: st.and_then(|s| s.exit_code).unwrap_or(0),
        started_at: st
            .and_then(|s| s.started_at.as_deref())
            .and_then(timestamp_of),
        finished_at: st
            .and_then(|s| s.finished_at.as_deref())
            .and_then(timestamp_of),
        network_mode: rec.network_mode.clone(),
        mounts: rec.mounts.iter().map(mount_point).collect(),
        networks: crate::rpc::network_view::settings(rec, networks).networks,
        ports: rec
            .ports
            .iter()
            .map(|p| PortSummary {
                ip: p
                    .host_ip
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                private_port: p.container_port.into(),
                public_port: p.host_port.unwrap_or(0).into(),
                protocol: p.protocol.to_string(),
            })
            .collect(),
        ..Default::default()
    }
}

pub async fn list(
    c: &Arc<Containers>,
    r: ListContainersRequest,
) -> Result<Response<ListContainersResponse>, Status> {
    let networks = c.networks.store.all().unwrap_or_default();
    let mut containers: Vec<ContainerSummary> = c
        .list(r.all)
        .await?
        .into_iter()
        .map(|v| summary(v, &networks))
        .collect();
    containers.sort_by(|a, b| {
        b.created
            .as_ref()
            .map(|t| t.seconds)
            .cmp(&a.created.as_ref().map(|t| t.seconds))
    });
    if let Some(limit) = r.limit.filter(|l| *l > 0) {
        containers.truncate(limit as usize);
    }
    Ok(Response::new(ListContainersResponse { containers }))
}

pub async fn inspect(
    c: &Arc<Containers>,
    r: InspectContainerRequest,
) -> Result<Response<InspectContainerResponse>, Status> {
    let v = c.inspect(&r.container).await?;
    let st = v
        .state
        .clone()
        .unwrap_or_else(|| berth_runtime::ContainerState::between_runs(&v.record.id));
    let record = &v.record;
    Ok(Response::new(InspectContainerResponse {
        id: record.id.clone(),
        created: Some(prost_types::Timestamp {
            seconds: record.created / 1_000_000_000,
            nanos: (record.created % 1_000_000_000) as i32,
        }),
        path: record.args.first().cloned().unwrap_or_default(),
        args: record.args.iter().skip(1).cloned().collect(),
        state: Some(ContainerState {
            status: status_of(v.phase) as i32,
            oom_killed: st.oom_killed,
            pid: st.pid.unwrap_or(0) as i64,
            exit_code: st.exit_code.unwrap_or(0),
            started_at: st.started_at.as_deref().and_then(timestamp_of),
            finished_at: st.finished_at.as_deref().and_then(timestamp_of),
            error: st.error.clone().unwrap_or_default(),
            ..Default::default()
        }),
        image_id: Some(Digest {
            value: record.image_id.clone(),
        }),
        name: record.name.clone(),
        spec: v.spec.as_ref().map(ContainerSpec::from),
        log_path: record.log_path.display().to_string(),
        network_settings: Some(crate::rpc::network_view::settings(
            record,
            &c.networks.store.all().unwrap_or_default(),
        )),
        restart_count: record.restart_count,
        mounts: record.mounts.iter().map(mount_point).collect(),
        driver: "overlay2".into(),
        platform: "linux".into(),
        ..Default::default()
    }))
}

fn log_entry(line: LogLine) -> LogEntry {
    let stream = match line.stream {
        LogStream::Stdout => StdioStream::Stdout,
        LogStream::Stderr => StdioStream::Stderr,
    };
    LogEntry {
        stream: stream as i32,
        timestamp: line.time.map(|t| prost_types::Timestamp {
            seconds: t.unix_timestamp(),
            nanos: t.nanosecond() as i32,
        }),
        data: line.data,
    }
}

/// Streams log entries; with `follow`, keeps reading until the container exits.
pub async fn logs(
    c: &Arc<Containers>,
    r: LogsRequest,
) -> Result<Response<Stream<LogEntry>>, Status> {
    let record = c.find(&r.container)?;
    let nanos = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .map(|t| t.seconds * 1_000_000_000 + t.nanos as i64)
    };
    let filter = LogFilter {
        stdout: r.stdout,
        stderr: r.stderr,
        since: nanos(&r.since),
        until: nanos(&r.until),
        tail: r.tail,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let this = c.clone();
    tokio::spawn(async move {
        let path = record.log_path.clone();
        let opened = tokio::task::spawn_blocking(move || LogCursor::open(&path, filter)).await;
        let Ok(Ok(mut cursor)) = opened else {
            let _ = tx
                .send(Err(Status::internal("reading the container's log failed")))
                .await;
            return;
        };
        // Bounded batches: `docker logs` of a huge log holds one batch plus the channel.
        const BATCH: usize = 256;
        let mut exited = false;
        loop {
            let read = tokio::task::spawn_blocking(move || {
                let batch = cursor.next_batch(BATCH);
                (cursor, batch)
            })
            .await;
            let Ok((back, Ok(entries))) = read else {
                let _ = tx
                    .send(Err(Status::internal("reading the container's log failed")))
                    .await;
                return;
            };
            cursor = back;
            if !entries.is_empty() {
                for e in entries {
                    if tx.send(Ok(log_entry(e))).await.is_err() {
                        return; // the client went away
                    }
                }
                continue;
            }
            // Everything written so far is out; the read after the exit was the last.
            if !r.follow || exited {
                return;
            }
            let (rt, id) = (this.clone(), record.id.clone());
            let running = blocking(move || Ok(rt.is_running(&id)))
                .await
                .unwrap_or(false);
            if !running {
                // One more pass: lines written between the read and the exit.
                exited = true;
                continue;
            }
            // The monitor appends to a file; polling it a few times a second costs less
            // than a watch per follower and needs no extra file descriptors.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    Ok(Response::new(Box::pin(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    )))
}

/// Docker's MountPoint of one mount.
fn mount_point(m: &crate::containers::mounts::MountRecord) -> MountPoint {
    use crate::containers::mounts::MountKind;
    let kind = match m.kind {
        MountKind::Bind => MountType::Bind,
        MountKind::Volume => MountType::Volume,
        MountKind::Tmpfs => MountType::Tmpfs,
    };
    MountPoint {
        r#type: kind as i32,
        name: m.name.clone(),
        source: m.source.clone(),
        destination: m.destination.clone(),
        driver: if m.kind == MountKind::Volume {
            "local"
        } else {
            ""
        }
        .to_owned(),
        mode: m.mode.clone(),
        rw: m.rw,
        propagation: m.propagation.clone(),
    }
}

pub async fn start(
    c: &Arc<Containers>,
    r: StartContainerRequest,
) -> Result<Response<StartContainerResponse>, Status> {
    let already_running = c.start(&r.container).await?;
    Ok(Response::new(StartContainerResponse { already_running }))
}

pub async fn restart(
    c: &Arc<Containers>,
    r: RestartContainerRequest,
) -> Result<Response<RestartContainerResponse>, Status> {
    let options = StopOptions {
        signal: r.signal,
        timeout_seconds: r.timeout_seconds,
    };
    c.restart(&r.container, &options).await?;
    Ok(Response::new(RestartContainerResponse {}))
}

pub async fn kill(
    c: &Arc<Containers>,
    r: KillContainerRequest,
) -> Result<Response<KillContainerResponse>, Status> {
    c.kill(&r.container, &r.signal).await?;
    Ok(Response::new(KillContainerResponse {}))
}

pub async fn stop(
    c: &Arc<Containers>,
    r: StopContainerRequest,
) -> Result<Response<StopContainerResponse>, Status> {
    let options = StopOptions {
        signal: r.signal,
        timeout_seconds: r.timeout_seconds,
    };
    let already_stopped = c.stop(&r.container, &options).await?;
    Ok(Response::new(StopContainerResponse { already_stopped }))
}

/// Acknowledges at once, then answers when the container exits (or is removed).
pub async fn wait(
    c: &Arc<Containers>,
    r: WaitContainerRequest,
) -> Result<Response<Stream<WaitContainerResponse>>, Status> {
    let record = c.find(&r.container)?;
    let condition = WaitCondition::try_from(r.condition).unwrap_or(WaitCondition::NotRunning);
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let accepted = WaitContainerResponse {
        event: Some(wait_container_response::Event::Accepted(WaitAccepted {})),
    };
    let _ = tx.send(Ok(accepted)).await;
    let this = c.clone();
    tokio::spawn(async move {
        let outcome = this
            .wait_exit(&record, condition == WaitCondition::Removed)
            .await;
        let _ = tx
            .send(Ok(WaitContainerResponse {
                event: Some(wait_container_response::Event::Exited(WaitExit {
                    status_code: outcome.status_code,
                    error: outcome.error,
                })),
            }))
            .await;
    });
    Ok(Response::new(Box::pin(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    )))
}

pub async fn pause(
    c: &Arc<Containers>,
    r: PauseContainerRequest,
) -> Result<Response<PauseContainerResponse>, Status> {
    c.pause(&r.container).await?;
    Ok(Response::new(PauseContainerResponse {}))
}

pub async fn unpause(
    c: &Arc<Containers>,
    r: UnpauseContainerRequest,
) -> Result<Response<UnpauseContainerResponse>, Status> {
    c.unpause(&r.container).await?;
    Ok(Response::new(UnpauseContainerResponse {}))
}

pub async fn resize(
    c: &Arc<Containers>,
    r: ResizeRequest,
) -> Result<Response<ResizeResponse>, Status> {
    let size = r.size.unwrap_or_default();
    c.resize(&r.container, size.width as u16, size.height as u16)
        .await?;
    Ok(Response::new(ResizeResponse {}))
}

/// `docker container prune` (`until` as Unix seconds, which the gateway resolves from
/// Docker's forms).
pub async fn prune(
    c: &Arc<Containers>,
    r: PruneContainersRequest,
) -> Result<Response<PruneContainersResponse>, Status> {
    let filter = PruneFilter::parse(&super::filters(r.filters))?;
    let (containers_deleted, space_reclaimed) = c.prune(&filter).await?;
    Ok(Response::new(PruneContainersResponse {
        containers_deleted,
        space_reclaimed,
    }))
}
