//! The containers of this host: creating them from an image (resolve, unpack, mount),
//! driving them through the runtime, and answering what Docker asks about them.
//!
//! The runtime (`berth-runtime`) and its per-container monitors own the processes; this
//! module owns the records and the root filesystems, and never forks anything itself.

pub mod attach;
mod create;
mod error;
pub mod exec;
#[cfg(test)]
mod fake_runtime;
pub mod images;
pub mod lifecycle;
pub mod logs;
pub mod mounts;
mod network_members;
pub mod observe;
pub mod query;
pub mod record;
pub mod restart;
pub mod runtime;
mod snapshot_gc;
pub mod spec;
mod sweep;
mod volume_use;

use std::path::PathBuf;
use std::sync::Arc;

use berth_snapshots::ContainerFs;
use berth_snapshots::Snapshots;
use record::{Record, Records};

pub use error::ContainerError;

/// Everything the container RPCs work with.
#[derive(Debug)]
pub struct Containers {
    pub runtime: Arc<dyn runtime::ContainerRuntime>,
    pub snapshots: Snapshots,
    pub records: Records,
    /// The host's volumes; `names` also guards their use against their removal.
    pub volumes: crate::volumes::Volumes,
    pub images: Arc<dyn images::ImageSource>,
    /// `containers/<id>/` holds each container's overlay.
    pub root: PathBuf,
    /// Serialises name checks with record writes, so two creates cannot take one name.
    pub names: tokio::sync::Mutex<()>,
    /// The host's networks and the containers' places on them.
    pub networks: Arc<crate::networks::Networks>,
    /// Where container events go (`docker events`).
    pub bus: Arc<dyn berth_bus::Bus>,
    /// Containers whose `die` event is out, so it goes out once whoever sees the exit
    /// first (the exit watcher, or a remove that follows the exit at once). Kept after
    /// the container is gone, since the watcher may still be on its way; IDs are never
    /// reused, and the set starts empty with each runner process.
    pub died: tokio::sync::Mutex<std::collections::HashSet<String>>,
    /// The delay before each container's next restart by policy (see [`restart`]).
    pub backoff: tokio::sync::Mutex<std::collections::HashMap<String, std::time::Duration>>,
    /// Containers waiting out that delay: Docker shows them as "restarting".
    pub restarting: tokio::sync::Mutex<std::collections::HashSet<String>>,
    /// Held while an exited container starts again (see [`Containers::rerun`]).
    pub reruns: tokio::sync::Mutex<()>,
    /// Attaches made while the container was exited, answered by its next run.
    pub next_run_attaches:
        tokio::sync::Mutex<std::collections::HashMap<String, Vec<restart::PendingAttach>>>,
    /// Containers found at start whose re-adoption is not done yet; `adopted` wakes
    /// whoever waits on one as each is done.
    pub adopting: std::sync::Mutex<std::collections::HashSet<String>>,
    pub adopted: tokio::sync::Notify,
    /// The runner's `--log-opt` defaults for json-file logs.
    pub log_defaults: std::collections::HashMap<String, String>,
}

/// How many containers are re-adopted at once after a restart.
const READOPT_PARALLEL: usize = 16;

/// A runtime call on the blocking pool: the runtime talks to monitors synchronously.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ContainerError> + Send + 'static,
) -> Result<T, ContainerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ContainerError::internal(format!("runner task failed: {e}")))?
}

/// What containers are made of and where they go; the rest of [`Containers`] is the
/// state of this runner process, which starts empty.
#[derive(Debug)]
pub struct Parts {
    pub runtime: Arc<dyn runtime::ContainerRuntime>,
    pub snapshots: Snapshots,
    pub records: Records,
    pub volumes: crate::volumes::Volumes,
    pub images: Arc<dyn images::ImageSource>,
    pub root: PathBuf,
    pub networks: Arc<crate::networks::Networks>,
    pub bus: Arc<dyn berth_bus::Bus>,
    pub log_defaults: std::collections::HashMap<String, String>,
}

impl Containers {
    pub fn new(parts: Parts) -> Self {
        Containers {
            runtime: parts.runtime,
            snapshots: parts.snapshots,
            records: parts.records,
            volumes: parts.volumes,
            images: parts.images,
            root: parts.root,
            names: Default::default(),
            networks: parts.networks,
            bus: parts.bus,
            died: Default::default(),
            backoff: Default::default(),
            restarting: Default::default(),
            reruns: Default::default(),
            next_run_attaches: Default::default(),
            adopting: Default::default(),
            adopted: Default::default(),
            log_defaults: parts.log_defaults,
        }
    }

    pub fn fs(&self, id: &str) -> ContainerFs {
        ContainerFs::new(self.root.join(id))
    }

    /// The record of `text` (ID, prefix or name), or Docker's "No such container".
    pub fn find(&self, text: &str) -> Result<Record, ContainerError> {
        self.records
            .find(text)?
            .ok_or_else(|| ContainerError::no_such(text))
    }

    /// Takes a container off its networks once it has stopped (idempotent).
    pub async fn unplug(&self, id: &str) {
        self.unplug_run(id, None).await;
    }

    /// The host ends of the veths of a container's current run: random names, so they
    /// tell one run from the next.
    fn run_endpoints(&self, id: &str) -> Vec<String> {
        self.records
            .find(id)
            .ok()
            .flatten()
            .map(|r| {
                r.networks
                    .iter()
                    .filter_map(|m| m.endpoint.as_ref().map(|e| e.host_ifname.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Takes a container off its networks if it is still on them with `run` (the
    /// endpoints of the run that ended), or whatever its endpoints when `run` is `None`.
    /// A run that ended must not unplug the next one, which a restart may have plugged
    /// in first.
    async fn unplug_run(&self, id: &str, run: Option<&[String]>) {
        let _no_rerun_meanwhile = self.reruns.lock().await;
        if run.is_some_and(|run| self.run_endpoints(id) != run) {
            return;
        }
        self.networks.unplug(self, id).await;
    }

    /// Watches a started container: when it exits, unplugs it from the network, reports
    /// the exit and applies its restart policy.
    pub fn watch_exit(self: &Arc<Self>, id: String) {
        let this = self.clone();
        let started = std::time::Instant::now();
        let run = self.run_endpoints(&id);
        tokio::spawn(async move {
            let exit = this.exit_of(&id).await;
            if let Err(e) = &exit {
                tracing::warn!(container = %id, error = %e, "lost track of the container's exit");
            }
            if !run.is_empty() {
                this.unplug_run(&id, Some(&run)).await;
            }
            if let Ok(exit) = exit {
                this.report_exit(&id, exit.exit_code).await;
                this.after_exit(&id, exit.exit_code, started.elapsed())
                    .await;
            }
        });
    }

    /// Waits for the container's exit.
    pub async fn exit_of(&self, id: &str) -> Result<berth_runtime::ExitRecord, ContainerError> {
        Ok(self.runtime.exited(id).await?)
    }

    /// Sends the container's `die` event, once. The lock is held while the event goes
    /// out, so whoever comes second (a remove right after the exit) returns only after
    /// `die` is published: `destroy` can never overtake it.
    pub async fn report_exit(&self, id: &str, exit_code: i32) {
        let mut died = self.died.lock().await;
        if died.insert(id.to_owned()) {
            self.emit("die", id, &[("exitCode", exit_code.to_string())])
                .await;
        }
    }

    /// Publishes a Docker container event; attributes carry the name, the image and the
    /// labels, as Docker's do.
    pub async fn emit(&self, action: &str, id: &str, extra: &[(&str, String)]) {
        use berth_bus::BusExt as _;
        use berth_bus::event::{Event, EventKind};
        let mut event = Event::now(EventKind::Container, action, id);
        if let Ok(Some(record)) = self.records.find(id) {
            event = event
                .with_attribute("name", record.name)
                .with_attribute("image", record.image);
            if let Ok(Some(spec)) = self.records.spec(id) {
                for (k, v) in spec.labels {
                    event = event.with_attribute(k, v);
                }
            }
        }
        for (k, v) in extra {
            event = event.with_attribute(*k, v.clone());
        }
        if let Err(e) = self.bus.emit(&event).await {
            tracing::warn!(action, error = %e, "container event not published");
        }
    }

    /// Marks every recorded container as not yet re-adopted and returns their records:
    /// called before the runner serves, so a call that arrives meanwhile waits for its
    /// container (see [`Containers::adopted`]) instead of racing its re-adoption.
    pub fn begin_readopt(&self) -> Vec<Record> {
        let records = self.records.all().unwrap_or_default();
        let mut pending = self.adopting.lock().unwrap_or_else(|p| p.into_inner());
        pending.extend(records.iter().map(|r| r.id.clone()));
        records
    }

    /// After a runner restart: running containers get their port proxies and exit
    /// watchers back; stopped ones give their addresses back, and those whose restart
    /// policy says so start again. Several at once (each mostly waits on its monitor
    /// and the network), bounded so a host with hundreds does not open them all at once.
    pub async fn readopt(self: &Arc<Self>, records: Vec<Record>) {
        use futures::StreamExt as _;
        futures::stream::iter(records)
            .for_each_concurrent(READOPT_PARALLEL, |record| async move {
                self.readopt_one(&record).await;
                self.adopting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&record.id);
                self.adopted.notify_waiters();
            })
            .await;
    }

    async fn readopt_one(self: &Arc<Self>, record: &Record) {
        let state = {
            let (this, id) = (self.clone(), record.id.clone());
            tokio::task::spawn_blocking(move || this.runtime.state(&id))
                .await
                .map_err(|_| ())
                .and_then(|s| s.map_err(|_| ()))
        };
        let running = state
            .as_ref()
            .is_ok_and(|s| s.status != berth_runtime::Status::Exited);
        if !running && let Ok(state) = &state {
            self.unplug(&record.id).await;
            if let Ok(record) = self.find(&record.id) {
                self.restart_at_boot(&record, state.exit_code.unwrap_or(-1))
                    .await;
            }
            return;
        }
        if running {
            self.networks
                .republish(&record.id, &record.networks, &record.ports)
                .await;
            self.watch_exit(record.id.clone());
        } else {
            self.unplug(&record.id).await;
        }
    }

    /// Returns once the container `text` names is re-adopted (at once when it was never
    /// pending, or is unknown: the call then answers as it would anyway).
    pub async fn adopted(&self, text: &str) {
        loop {
            let notified = self.adopted.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let pending = self.adopting.lock().unwrap_or_else(|p| p.into_inner());
                if pending.is_empty() {
                    return;
                }
                let Ok(Some(record)) = self.records.find(text) else {
                    return;
                };
                if !pending.contains(&record.id) {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Returns once every container found at start is re-adopted.
    pub async fn all_adopted(&self) {
        loop {
            let notified = self.adopted.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self
                .adopting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
            {
                return;
            }
            notified.await;
        }
    }

    /// Removes a container: its process (when forced), its network attachment, its
    /// runtime state, its root and its record.
    pub async fn remove(
        self: &Arc<Self>,
        record: &Record,
        force: bool,
    ) -> Result<(), ContainerError> {
        let this = self.clone();
        let id = record.id.clone();
        blocking(move || match this.runtime.state(&id) {
            Ok(st) if st.status == berth_runtime::Status::Running && !force => Err(ContainerError::state(format!(
                "cannot remove container \"/{id}\": container is running: stop the container before removing or force remove"
            ))),
            Ok(st) if st.status != berth_runtime::Status::Exited => {
                let _ = this.runtime.kill(&id, libc::SIGKILL);
                Ok(())
            }
            _ => Ok(()),
        })
        .await?;
        self.unplug(&record.id).await;
        // The exit may have happened just now, before its watcher reported it: report it
        // here, so `die` always precedes `destroy`.
        let exited = {
            let (this, id) = (self.clone(), record.id.clone());
            blocking(move || {
                Ok(match this.runtime.state(&id) {
                    Ok(st) if st.status == berth_runtime::Status::Exited => Some(
                        st.exit_code
                            .or_else(|| {
                                this.runtime
                                    .wait(&id, Some(std::time::Duration::ZERO))
                                    .ok()
                                    .map(|e| e.exit_code)
                            })
                            .unwrap_or(-1),
                    ),
                    _ => None,
                })
            })
            .await?
        };
        if let Some(code) = exited {
            self.report_exit(&record.id, code).await;
        }
        // Attaches waiting for a next run learn there will be none.
        self.next_run_attaches.lock().await.remove(&record.id);
        self.emit("destroy", &record.id, &[]).await;
        let this = self.clone();
        let id = record.id.clone();
        blocking(move || {
            match this.runtime.delete(&id, true) {
                Ok(()) | Err(berth_runtime::Error::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
            this.runtime
                .remove_root(&this.fs(&id))
                .map_err(|e| ContainerError::internal(format!("removing the root of {id}: {e}")))?;
            this.records
                .remove(&id)
                .map_err(|e| ContainerError::internal(e.to_string()))
        })
        .await?;
        self.collect_after_remove(record);
        // Docker's --rm takes the anonymous volumes with the container.
        if record.auto_remove {
            self.remove_anonymous_volumes(record).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
