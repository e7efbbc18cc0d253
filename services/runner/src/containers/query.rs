//! What `docker ps` and `docker inspect` read: a container's record, its spec and its
//! live state, taken together.

use std::sync::Arc;

use berth_runtime::{ContainerState, Status};

use super::record::Record;
use super::spec::ContainerSpec;
use super::{ContainerError, Containers, blocking};

/// Where a container is in its life, as Docker shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Created,
    Running,
    Paused,
    /// Waiting out its restart delay, or between two runs.
    Restarting,
    Exited,
}

impl Phase {
    /// What `docker ps` shows without `-a`.
    pub fn is_live(self) -> bool {
        matches!(self, Phase::Running | Phase::Paused | Phase::Restarting)
    }
}

/// One container, as read now.
#[derive(Debug, Clone)]
pub struct ContainerView {
    pub record: Record,
    pub spec: Option<ContainerSpec>,
    pub phase: Phase,
    /// The runtime's state; `None` when it has none (a container between runs).
    pub state: Option<ContainerState>,
}

fn phase(state: Option<&ContainerState>, restarting: bool) -> Phase {
    match state.map(|s| s.status) {
        _ if restarting => Phase::Restarting,
        Some(Status::Created) => Phase::Created,
        Some(Status::Running) => Phase::Running,
        Some(Status::Paused) => Phase::Paused,
        Some(Status::Exited) | None => Phase::Exited,
    }
}

impl Containers {
    /// Every container (`all`), or the live ones only, as `docker ps` lists them.
    pub async fn list(self: &Arc<Self>, all: bool) -> Result<Vec<ContainerView>, ContainerError> {
        let restarting = self.restarting.lock().await.clone();
        let this = self.clone();
        blocking(move || {
            let mut out = Vec::new();
            for record in this.records.all()? {
                let state = this.runtime.state(&record.id).ok();
                let phase = phase(state.as_ref(), restarting.contains(&record.id));
                if !all && !phase.is_live() {
                    continue;
                }
                let spec = this.records.spec(&record.id).ok().flatten();
                out.push(ContainerView {
                    record,
                    spec,
                    phase,
                    state,
                });
            }
            Ok(out)
        })
        .await
    }

    /// The container `text` names, as `docker inspect` reads it.
    pub async fn inspect(self: &Arc<Self>, text: &str) -> Result<ContainerView, ContainerError> {
        let record = self.find(text)?;
        let restarting = self.restarting.lock().await.contains(&record.id);
        let this = self.clone();
        let id = record.id.clone();
        let (state, spec) = blocking(move || {
            let state = match this.runtime.state(&id) {
                Ok(st) => st,
                // Mid-restart the old run's state is gone and the new one's not written yet.
                Err(_) if restarting => ContainerState::between_runs(&id),
                Err(e) => return Err(e.into()),
            };
            Ok((state, this.records.spec(&id)?))
        })
        .await?;
        // Read again: a restart meanwhile changed its count and endpoints.
        let record = self.find(text)?;
        Ok(ContainerView {
            phase: phase(Some(&state), restarting),
            record,
            spec,
            state: Some(state),
        })
    }
}
