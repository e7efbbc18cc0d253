//! The containers of this host: creating them from an image (resolve, unpack, mount),
//! driving them through the runtime, and answering what Docker asks about them.
//!
//! The runtime (`berth-runtime`) and its per-container monitors own the processes; this
//! module owns the records and the root filesystems, and never forks anything itself.

mod create;
pub mod logs;
pub mod record;

use std::path::PathBuf;
use std::sync::Arc;

use berth_proto::v1::image_store_client::ImageStoreClient;
use berth_rpc::TracedChannel;
use berth_runtime::Runtime;
use tonic::Status;

use crate::rootfs::ContainerFs;
use crate::snapshots::Snapshots;
use record::{Record, Records};

pub use create::valid_name;
pub use logs::read_logs;

/// Everything the container RPCs work with.
#[derive(Debug)]
pub struct Containers {
    pub runtime: Runtime,
    pub snapshots: Snapshots,
    pub records: Records,
    pub image_store: ImageStoreClient<TracedChannel>,
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
}

/// A runtime call on the blocking pool: the runtime talks to monitors synchronously.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("runner task failed: {e}")))?
}

pub fn runtime_status(e: berth_runtime::Error) -> Status {
    use berth_runtime::Error as E;
    match &e {
        E::NotFound(_) => Status::not_found(e.to_string()),
        E::InvalidState { .. } => Status::failed_precondition(e.to_string()),
        E::InvalidConfig(_) | E::AlreadyExists(_) => Status::invalid_argument(e.to_string()),
        _ => Status::internal(e.to_string()),
    }
}

impl Containers {
    pub fn fs(&self, id: &str) -> ContainerFs {
        ContainerFs::new(self.root.join(id))
    }

    /// The record of `text` (ID, prefix or name), or Docker's "No such container".
    pub fn find(&self, text: &str) -> Result<Record, Status> {
        self.records
            .find(text)
            .map_err(|e| Status::invalid_argument(e.to_string()))?
            .ok_or_else(|| Status::not_found(format!("No such container: {text}")))
    }

    /// Takes a container off its networks once it has stopped (idempotent).
    pub async fn unplug(&self, id: &str) {
        self.networks.unplug(self, id).await;
    }

    /// Watches a started container and unplugs it from the network when it exits.
    pub fn watch_exit(self: &Arc<Self>, id: String) {
        let this = self.clone();
        tokio::spawn(async move {
            let waiter = this.clone();
            let wid = id.clone();
            let exit = tokio::task::spawn_blocking(move || waiter.runtime.wait(&wid, None)).await;
            this.unplug(&id).await;
            if let Ok(Ok(exit)) = exit {
                this.report_exit(&id, exit.exit_code).await;
            }
        });
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

    /// After a runner restart: running containers get their port proxies and exit
    /// watchers back; stopped ones give their addresses back.
    pub async fn readopt(self: &Arc<Self>) {
        let Ok(records) = self.records.all() else {
            return;
        };
        for record in records {
            let running = self
                .runtime
                .state(&record.id)
                .is_ok_and(|s| s.status != berth_runtime::Status::Exited);
            if running {
                self.networks.republish(&record).await;
                self.watch_exit(record.id.clone());
            } else {
                self.unplug(&record.id).await;
            }
        }
    }

    /// Removes a container: its process (when forced), its network attachment, its
    /// runtime state, its root and its record.
    pub async fn remove(self: &Arc<Self>, record: &Record, force: bool) -> Result<(), Status> {
        let this = self.clone();
        let id = record.id.clone();
        blocking(move || match this.runtime.state(&id) {
            Ok(st) if st.status == berth_runtime::Status::Running && !force => Err(Status::failed_precondition(format!(
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
        self.emit("destroy", &record.id, &[]).await;
        let this = self.clone();
        let id = record.id.clone();
        blocking(move || {
            match this.runtime.delete(&id, true) {
                Ok(()) | Err(berth_runtime::Error::NotFound(_)) => {}
                Err(e) => return Err(runtime_status(e)),
            }
            this.fs(&id)
                .remove()
                .map_err(|e| Status::internal(format!("removing the root of {id}: {e}")))?;
            this.records
                .remove(&id)
                .map_err(|e| Status::internal(e.to_string()))
        })
        .await
    }
}
