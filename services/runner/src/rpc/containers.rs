//! The container RPCs: each turns a request into a call on [`Containers`].

use std::sync::Arc;
use std::time::Duration;

use berth_proto::v1::*;
use tonic::{Response, Status};

use crate::containers::Containers;
use crate::containers::logs::{LogCursor, LogFilter, LogLine, LogStream};
use crate::error::{Classified as _, ErrorKind};
use crate::rpc::blocking;
use crate::rpc::status::runtime_status;

type Stream<T> = tonic::codegen::BoxStream<T>;

fn timestamp_of(rfc3339: &str) -> Option<prost_types::Timestamp> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| prost_types::Timestamp {
            seconds: t.unix_timestamp(),
            nanos: t.nanosecond() as i32,
        })
}

fn status_of(s: berth_runtime::Status) -> ContainerStatus {
    match s {
        berth_runtime::Status::Created => ContainerStatus::Created,
        berth_runtime::Status::Running => ContainerStatus::Running,
        berth_runtime::Status::Paused => ContainerStatus::Paused,
        berth_runtime::Status::Exited => ContainerStatus::Exited,
    }
}

/// Docker's signal names (`SIGKILL`, `KILL`, `9`) as numbers.
fn signal_number(name: &str) -> Result<i32, Status> {
    if name.is_empty() {
        return Ok(libc::SIGKILL);
    }
    if let Ok(n) = name.parse::<i32>() {
        return Ok(n);
    }
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| Status::invalid_argument(format!("invalid signal: {name}")))
}

pub async fn create(
    c: &Arc<Containers>,
    r: CreateContainerRequest,
) -> Result<Response<CreateContainerResponse>, Status> {
    let spec = r
        .spec
        .ok_or_else(|| Status::invalid_argument("spec is required"))?;
    let (id, warnings) = c.create(spec).await?;
    c.emit("create", &id, &[]).await;
    Ok(Response::new(CreateContainerResponse { id, warnings }))
}

pub async fn start(
    c: &Arc<Containers>,
    r: StartContainerRequest,
) -> Result<Response<StartContainerResponse>, Status> {
    let record = c.find(&r.container)?;
    let this = c.clone();
    let id = record.id.clone();
    let status = blocking(move || {
        let st = this.runtime.state(&id).map_err(runtime_status)?;
        if st.status == berth_runtime::Status::Created {
            this.runtime.start(&id).map_err(runtime_status)?;
        }
        Ok(st.status)
    })
    .await?;
    let already = match status {
        berth_runtime::Status::Running | berth_runtime::Status::Paused => true,
        berth_runtime::Status::Created => {
            c.emit("start", &record.id, &[]).await;
            c.watch_exit(record.id.clone());
            false
        }
        berth_runtime::Status::Exited => {
            c.rerun(&record).await?;
            false
        }
    };
    Ok(Response::new(StartContainerResponse {
        already_running: already,
    }))
}

/// Docker's restart: stop (signal, then SIGKILL after the timeout), then start. A
/// restart by hand does not count in RestartCount, as in Docker.
pub async fn restart(
    c: &Arc<Containers>,
    r: RestartContainerRequest,
) -> Result<Response<RestartContainerResponse>, Status> {
    stop(
        c,
        StopContainerRequest {
            container: r.container.clone(),
            signal: r.signal.clone(),
            timeout_seconds: r.timeout_seconds,
        },
    )
    .await?;
    start(
        c,
        StartContainerRequest {
            container: r.container.clone(),
        },
    )
    .await?;
    let record = c.find(&r.container)?;
    c.emit("restart", &record.id, &[]).await;
    Ok(Response::new(RestartContainerResponse {}))
}

pub async fn kill(
    c: &Arc<Containers>,
    r: KillContainerRequest,
) -> Result<Response<KillContainerResponse>, Status> {
    let record = c.find(&r.container)?;
    let signal = signal_number(&r.signal)?;
    // Before the signal, so the exit watcher already sees it when the exit comes.
    c.mark_stopped(&record.id)?;
    let this = c.clone();
    let id = record.id.clone();
    blocking(move || {
        this.runtime
            .kill(&record.id, signal)
            .map_err(runtime_status)
    })
    .await?;
    c.emit("kill", &id, &[("signal", signal.to_string())]).await;
    Ok(Response::new(KillContainerResponse {}))
}

/// Docker's stop: the stop signal, then SIGKILL once the timeout passes.
pub async fn stop(
    c: &Arc<Containers>,
    r: StopContainerRequest,
) -> Result<Response<StopContainerResponse>, Status> {
    let record = c.find(&r.container)?;
    let id = record.id.clone();
    let spec = c
        .records
        .spec(&id)
        .map_err(|e| Status::internal(e.to_string()))?
        .unwrap_or_default();
    let signal = match r.signal.as_deref() {
        Some(s) if !s.is_empty() => signal_number(s)?,
        _ if !spec.stop_signal.is_empty() => signal_number(&spec.stop_signal)?,
        _ => libc::SIGTERM,
    };
    // Docker: -1 waits for ever; the container's own --stop-timeout, else 10 s.
    let timeout = match r.timeout_seconds.or(spec.stop_timeout).unwrap_or(10) {
        t if t < 0 => None,
        t => Some(Duration::from_secs(t as u64)),
    };
    c.mark_stopped(&id)?;
    let this = c.clone();
    let already = blocking(move || {
        let st = this.runtime.state(&record.id).map_err(runtime_status)?;
        if st.status != berth_runtime::Status::Running {
            return Ok(true);
        }
        this.runtime
            .kill(&record.id, signal)
            .map_err(runtime_status)?;
        if this.runtime.wait(&record.id, timeout).is_err() {
            this.runtime
                .kill(&record.id, libc::SIGKILL)
                .map_err(runtime_status)?;
            this.runtime
                .wait(&record.id, Some(Duration::from_secs(30)))
                .map_err(runtime_status)?;
        }
        Ok(false)
    })
    .await?;
    if !already {
        c.emit("stop", &id, &[]).await;
    }
    Ok(Response::new(StopContainerResponse {
        already_stopped: already,
    }))
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
        let exit = this.exit_of(&record.id).await;
        let outcome = match exit {
            Ok(exit) => {
                if record.auto_remove {
                    let _ = this.remove(&record, true).await;
                }
                WaitExit {
                    status_code: exit.exit_code as i64,
                    error: None,
                }
            }
            Err(e) if condition == WaitCondition::Removed && e.kind() == ErrorKind::NotFound => {
                WaitExit {
                    status_code: 0,
                    error: None,
                }
            }
            Err(e) => WaitExit {
                status_code: -1,
                error: Some(e.to_string()),
            },
        };
        let _ = tx
            .send(Ok(WaitContainerResponse {
                event: Some(wait_container_response::Event::Exited(outcome)),
            }))
            .await;
    });
    Ok(Response::new(Box::pin(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    )))
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

pub async fn list(
    c: &Arc<Containers>,
    r: ListContainersRequest,
) -> Result<Response<ListContainersResponse>, Status> {
    let this = c.clone();
    let restarting = c.restarting.lock().await.clone();
    let mut containers = blocking(move || {
        let records = this
            .records
            .all()
            .map_err(|e| Status::internal(e.to_string()))?;
        let networks = this.networks.store.all().unwrap_or_default();
        let mut out = Vec::new();
        for rec in records {
            let st = this.runtime.state(&rec.id).ok();
            let status = match st.as_ref() {
                _ if restarting.contains(&rec.id) => ContainerStatus::Restarting,
                Some(s) => status_of(s.status),
                None => ContainerStatus::Exited,
            };
            let live = [
                ContainerStatus::Running,
                ContainerStatus::Paused,
                ContainerStatus::Restarting,
            ];
            if !r.all && !live.contains(&status) {
                continue;
            }
            let labels = this
                .records
                .spec(&rec.id)
                .ok()
                .flatten()
                .map(|s| s.labels)
                .unwrap_or_default();
            out.push(ContainerSummary {
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
                labels,
                state: status as i32,
                exit_code: st.as_ref().and_then(|s| s.exit_code).unwrap_or(0),
                started_at: st
                    .as_ref()
                    .and_then(|s| s.started_at.as_deref())
                    .and_then(timestamp_of),
                finished_at: st
                    .as_ref()
                    .and_then(|s| s.finished_at.as_deref())
                    .and_then(timestamp_of),
                network_mode: rec.network_mode.clone(),
                mounts: rec.mounts.iter().map(mount_point).collect(),
                networks: crate::rpc::network_view::settings(&rec, &networks).networks,
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
            });
        }
        Ok(out)
    })
    .await?;
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
    let record = c.find(&r.container)?;
    let restarting = c.restarting.lock().await.contains(&record.id);
    let this = c.clone();
    let (st, spec) = blocking(move || {
        let st = match this.runtime.state(&record.id) {
            Ok(st) => st,
            // Mid-restart the old run's state is gone and the new one's not written yet.
            Err(_) if restarting => berth_runtime::ContainerState::between_runs(&record.id),
            Err(e) => return Err(runtime_status(e)),
        };
        let spec = this
            .records
            .spec(&record.id)
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok((st, spec))
    })
    .await?;
    let record = c.find(&r.container)?;
    Ok(Response::new(InspectContainerResponse {
        id: record.id.clone(),
        created: Some(prost_types::Timestamp {
            seconds: record.created / 1_000_000_000,
            nanos: (record.created % 1_000_000_000) as i32,
        }),
        path: record.args.first().cloned().unwrap_or_default(),
        args: record.args.iter().skip(1).cloned().collect(),
        state: Some(ContainerState {
            status: if restarting {
                ContainerStatus::Restarting
            } else {
                status_of(st.status)
            } as i32,
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
        spec,
        log_path: record.log_path.display().to_string(),
        network_settings: Some(crate::rpc::network_view::settings(
            &record,
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
            let running = blocking(move || {
                Ok(rt
                    .runtime
                    .state(&id)
                    .is_ok_and(|s| s.status != berth_runtime::Status::Exited))
            })
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

/// Freezes every process of the container (the cgroup freezer).
pub async fn pause(
    c: &Arc<Containers>,
    r: PauseContainerRequest,
) -> Result<Response<PauseContainerResponse>, Status> {
    let record = c.find(&r.container)?;
    let (this, id) = (c.clone(), record.id.clone());
    blocking(move || this.runtime.pause(&id).map_err(runtime_status)).await?;
    c.emit("pause", &record.id, &[]).await;
    Ok(Response::new(PauseContainerResponse {}))
}

pub async fn unpause(
    c: &Arc<Containers>,
    r: UnpauseContainerRequest,
) -> Result<Response<UnpauseContainerResponse>, Status> {
    let record = c.find(&r.container)?;
    let (this, id) = (c.clone(), record.id.clone());
    blocking(move || this.runtime.resume(&id).map_err(runtime_status)).await?;
    c.emit("unpause", &record.id, &[]).await;
    Ok(Response::new(UnpauseContainerResponse {}))
}

/// Sets the container's terminal size (its main process; exec sizes go through
/// `ExecResize`).
pub async fn resize(
    c: &Arc<Containers>,
    r: ResizeRequest,
) -> Result<Response<ResizeResponse>, Status> {
    let record = c.find(&r.container)?;
    let size = r.size.unwrap_or_default();
    let this = c.clone();
    blocking(move || {
        this.runtime
            .resize(&record.id, size.width as u16, size.height as u16, None)
            .map_err(runtime_status)
    })
    .await?;
    Ok(Response::new(ResizeResponse {}))
}

/// `docker container prune`: removes every stopped container the filters accept (`label`,
/// `label!`, and `until` as Unix seconds, which the gateway resolves from Docker's forms)
/// and reports the space their writable layers took.
pub async fn prune(
    c: &Arc<Containers>,
    r: PruneContainersRequest,
) -> Result<Response<PruneContainersResponse>, Status> {
    let values = |k: &str| {
        r.filters
            .get(k)
            .map(|l| l.values.clone())
            .unwrap_or_default()
    };
    let until = values("until")
        .iter()
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| Status::invalid_argument(format!("invalid until value {v:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (labels, not_labels) = (values("label"), values("label!"));
    let has = |spec_labels: &std::collections::HashMap<String, String>, l: &str| {
        berth_filters::label_matches(spec_labels, l)
    };
    let mut deleted = Vec::new();
    let mut reclaimed = 0;
    for record in c
        .records
        .all()
        .map_err(|e| Status::internal(e.to_string()))?
    {
        let (rt, id) = (c.clone(), record.id.clone());
        let stopped = blocking(move || {
            Ok(rt.runtime.state(&id).is_ok_and(|s| {
                matches!(
                    s.status,
                    berth_runtime::Status::Exited | berth_runtime::Status::Created
                )
            }))
        })
        .await
        .unwrap_or(false)
            && !c.restarting.lock().await.contains(&record.id);
        let spec_labels = c
            .records
            .spec(&record.id)
            .ok()
            .flatten()
            .map(|s| s.labels)
            .unwrap_or_default();
        let selected = stopped
            && until.iter().all(|u| record.created / 1_000_000_000 < *u)
            && labels.iter().all(|l| has(&spec_labels, l))
            && !not_labels.iter().any(|l| has(&spec_labels, l));
        if !selected {
            continue;
        }
        // A walk of the container's upper directory: not on the reactor.
        let fs = c.fs(&record.id);
        let size = blocking(move || Ok(fs.written_bytes())).await.unwrap_or(0);
        match c.remove(&record, false).await {
            Ok(()) => {
                reclaimed += size;
                deleted.push(record.id);
            }
            // Started again meanwhile: a prune skips it, as Docker's does.
            Err(e) if e.kind() == ErrorKind::State => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Response::new(PruneContainersResponse {
        containers_deleted: deleted,
        space_reclaimed: reclaimed,
    }))
}
