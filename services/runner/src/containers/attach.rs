//! `docker attach` and `docker start -a`: the stdio of a container's main process.

use std::sync::Arc;

use berth_runtime::Session;
use tokio::sync::oneshot;

use super::{ContainerError, Containers, blocking};

/// Where an attach gets its session.
#[derive(Debug)]
pub enum Attached {
    /// The container runs (or is created): its process now.
    Now(Session),
    /// The container has exited: its next run's process, handed over between that
    /// run's create and its start so that no output is missed (see
    /// [`Containers::rerun`]). The sender is dropped if the container is removed first.
    NextRun(oneshot::Receiver<Result<Session, ContainerError>>),
}

impl Containers {
    /// Attaches to the main process of container `text`; returns its ID and where the
    /// session comes from.
    pub async fn attach(
        self: &Arc<Self>,
        text: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<(String, Attached), ContainerError> {
        let record = self.find(text)?;
        let (this, id) = (self.clone(), record.id.clone());
        let exited =
            blocking(move || Ok(this.runtime.state(&id)?.status == berth_runtime::Status::Exited))
                .await?;
        if exited {
            let next = self
                .attach_next_run(&record.id, stdin, stdout, stderr)
                .await;
            return Ok((record.id, Attached::NextRun(next)));
        }
        let (this, id) = (self.clone(), record.id.clone());
        let session =
            blocking(move || Ok(this.runtime.attach(&id, stdin, stdout, stderr)?)).await?;
        Ok((record.id, Attached::Now(session)))
    }

    /// Sizes the terminal of a container's main process, ignoring failures: a resize
    /// that races the exit has nothing left to size.
    pub fn resize_quietly(&self, id: &str, width: u16, height: u16, exec_pid: Option<i32>) {
        let _ = self.runtime.resize(id, width, height, exec_pid);
    }

    /// How many containers there are, running, and paused (`docker info`).
    pub fn counts(&self) -> (u32, u32, u32) {
        let (mut total, mut running, mut paused) = (0, 0, 0);
        for record in self.records.all().unwrap_or_default() {
            total += 1;
            match self.runtime.state(&record.id).map(|s| s.status) {
                Ok(berth_runtime::Status::Running) => running += 1,
                Ok(berth_runtime::Status::Paused) => paused += 1,
                _ => {}
            }
        }
        (total, running, paused)
    }
}
