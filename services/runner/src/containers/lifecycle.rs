//! The verbs of a container's life after its create: start, stop, kill, restart,
//! pause, unpause, resize, waiting for its exit, and prune.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use berth_runtime::Status;

use super::record::Record;
use super::{ContainerError, Containers, blocking};
use crate::error::{Classified as _, ErrorKind};

/// Docker's signal names (`SIGKILL`, `KILL`, `9`) as numbers; empty means SIGKILL.
pub fn signal_number(name: &str) -> Result<i32, ContainerError> {
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
        .map_err(|_| ContainerError::invalid(format!("invalid signal: {name}")))
}

/// How `docker stop` ends a container: a signal, then SIGKILL after a timeout.
#[derive(Debug, Clone, Default)]
pub struct StopOptions {
    /// Absent or empty: the container's stop signal, else SIGTERM.
    pub signal: Option<String>,
    /// Seconds; absent: the container's stop timeout, else 10; negative waits for ever.
    pub timeout_seconds: Option<i32>,
}

/// How a wait for a container ended, as Docker's wait answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitOutcome {
    pub status_code: i64,
    pub error: Option<String>,
}

/// Which stopped containers `docker container prune` takes.
#[derive(Debug, Clone, Default)]
pub struct PruneFilter {
    /// Created before these Unix seconds (the gateway resolves Docker's forms).
    pub until: Vec<i64>,
    pub labels: Vec<String>,
    pub not_labels: Vec<String>,
}

impl PruneFilter {
    /// From Docker's filters: `until` (Unix seconds), `label`, `label!`.
    pub fn parse(filters: &HashMap<String, Vec<String>>) -> Result<Self, ContainerError> {
        let values = |k: &str| filters.get(k).cloned().unwrap_or_default();
        let until = values("until")
            .iter()
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ContainerError::invalid(format!("invalid until value {v:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PruneFilter {
            until,
            labels: values("label"),
            not_labels: values("label!"),
        })
    }
}

impl Containers {
    /// `docker start`; returns whether it was running already (Docker's 304).
    pub async fn start(self: &Arc<Self>, text: &str) -> Result<bool, ContainerError> {
        let record = self.find(text)?;
        let this = self.clone();
        let id = record.id.clone();
        let status = blocking(move || {
            let st = this.runtime.state(&id)?;
            if st.status == Status::Created {
                this.runtime.start(&id)?;
            }
            Ok(st.status)
        })
        .await?;
        Ok(match status {
            Status::Running | Status::Paused => true,
            Status::Created => {
                self.emit("start", &record.id, &[]).await;
                self.watch_exit(record.id.clone());
                false
            }
            Status::Exited => {
                self.rerun(&record).await?;
                false
            }
        })
    }

    /// Docker's stop: the stop signal, then SIGKILL once the timeout passes; returns
    /// whether it was stopped already (Docker's 304).
    pub async fn stop(
        self: &Arc<Self>,
        text: &str,
        options: &StopOptions,
    ) -> Result<bool, ContainerError> {
        let record = self.find(text)?;
        let id = record.id.clone();
        let spec = self.records.spec(&id)?.unwrap_or_default();
        let signal = match options.signal.as_deref() {
            Some(s) if !s.is_empty() => signal_number(s)?,
            _ if !spec.stop_signal.is_empty() => signal_number(&spec.stop_signal)?,
            _ => libc::SIGTERM,
        };
        // Docker: -1 waits for ever; the container's own --stop-timeout, else 10 s.
        let timeout = match options.timeout_seconds.or(spec.stop_timeout).unwrap_or(10) {
            t if t < 0 => None,
            t => Some(Duration::from_secs(t as u64)),
        };
        self.mark_stopped(&id)?;
        let this = self.clone();
        let already = blocking(move || {
            let st = this.runtime.state(&record.id)?;
            if st.status != Status::Running {
                return Ok(true);
            }
            this.runtime.kill(&record.id, signal)?;
            if this.runtime.wait(&record.id, timeout).is_err() {
                this.runtime.kill(&record.id, libc::SIGKILL)?;
                this.runtime
                    .wait(&record.id, Some(Duration::from_secs(30)))?;
            }
            Ok(false)
        })
        .await?;
        if !already {
            self.emit("stop", &id, &[]).await;
        }
        Ok(already)
    }

    /// Docker's restart: stop, then start. A restart by hand does not count in
    /// RestartCount, as in Docker.
    pub async fn restart(
        self: &Arc<Self>,
        text: &str,
        options: &StopOptions,
    ) -> Result<(), ContainerError> {
        self.stop(text, options).await?;
        self.start(text).await?;
        let record = self.find(text)?;
        self.emit("restart", &record.id, &[]).await;
        Ok(())
    }

    /// `docker kill`.
    pub async fn kill(self: &Arc<Self>, text: &str, signal: &str) -> Result<(), ContainerError> {
        let record = self.find(text)?;
        let signal = signal_number(signal)?;
        // Before the signal, so the exit watcher already sees it when the exit comes.
        self.mark_stopped(&record.id)?;
        let this = self.clone();
        let id = record.id.clone();
        blocking(move || Ok(this.runtime.kill(&id, signal)?)).await?;
        self.emit("kill", &record.id, &[("signal", signal.to_string())])
            .await;
        Ok(())
    }

    /// Waits for the exit of `record`'s current run; a `--rm` container is removed
    /// before the answer, as Docker's is. With `removed`, a container gone meanwhile
    /// counts as a clean end (Docker's `condition=removed`).
    pub async fn wait_exit(self: &Arc<Self>, record: &Record, removed: bool) -> WaitOutcome {
        match self.exit_of(&record.id).await {
            Ok(exit) => {
                if record.auto_remove {
                    let _ = self.remove(record, true).await;
                }
                WaitOutcome {
                    status_code: exit.exit_code as i64,
                    error: None,
                }
            }
            Err(e) if removed && e.kind() == ErrorKind::NotFound => WaitOutcome {
                status_code: 0,
                error: None,
            },
            Err(e) => WaitOutcome {
                status_code: -1,
                error: Some(e.to_string()),
            },
        }
    }

    /// Freezes every process of the container (the cgroup freezer).
    pub async fn pause(self: &Arc<Self>, text: &str) -> Result<(), ContainerError> {
        let record = self.find(text)?;
        let (this, id) = (self.clone(), record.id.clone());
        blocking(move || Ok(this.runtime.pause(&id)?)).await?;
        self.emit("pause", &record.id, &[]).await;
        Ok(())
    }

    pub async fn unpause(self: &Arc<Self>, text: &str) -> Result<(), ContainerError> {
        let record = self.find(text)?;
        let (this, id) = (self.clone(), record.id.clone());
        blocking(move || Ok(this.runtime.resume(&id)?)).await?;
        self.emit("unpause", &record.id, &[]).await;
        Ok(())
    }

    /// Sets the terminal size of the container's main process (exec sizes go through
    /// the exec).
    pub async fn resize(
        self: &Arc<Self>,
        text: &str,
        width: u16,
        height: u16,
    ) -> Result<(), ContainerError> {
        let record = self.find(text)?;
        let this = self.clone();
        blocking(move || Ok(this.runtime.resize(&record.id, width, height, None)?)).await
    }

    /// `docker container prune`: removes every stopped container the filter accepts;
    /// returns their IDs and the bytes their writable layers took.
    pub async fn prune(
        self: &Arc<Self>,
        filter: &PruneFilter,
    ) -> Result<(Vec<String>, u64), ContainerError> {
        let has =
            |labels: &HashMap<String, String>, l: &str| berth_filters::label_matches(labels, l);
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for record in self.records.all()? {
            let (rt, id) = (self.clone(), record.id.clone());
            let stopped = blocking(move || {
                Ok(rt
                    .runtime
                    .state(&id)
                    .is_ok_and(|s| matches!(s.status, Status::Exited | Status::Created)))
            })
            .await
            .unwrap_or(false)
                && !self.restarting.lock().await.contains(&record.id);
            let labels = self
                .records
                .spec(&record.id)
                .ok()
                .flatten()
                .map(|s| s.labels)
                .unwrap_or_default();
            let selected = stopped
                && filter
                    .until
                    .iter()
                    .all(|u| record.created / 1_000_000_000 < *u)
                && filter.labels.iter().all(|l| has(&labels, l))
                && !filter.not_labels.iter().any(|l| has(&labels, l));
            if !selected {
                continue;
            }
            // A walk of the container's upper directory: not on the reactor.
            let fs = self.fs(&record.id);
            let size = blocking(move || Ok(fs.written_bytes())).await.unwrap_or(0);
            match self.remove(&record, false).await {
                Ok(()) => {
                    reclaimed += size;
                    deleted.push(record.id);
                }
                // Started again meanwhile: a prune skips it, as Docker's does.
                Err(e) if e.kind() == ErrorKind::State => {}
                Err(e) => return Err(e),
            }
        }
        Ok((deleted, reclaimed))
    }
}
