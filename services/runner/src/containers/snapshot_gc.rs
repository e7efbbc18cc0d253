//! Removing unpacked layers nothing needs any more. A snapshot stays while an image the
//! image store holds has its chain (it makes the next run of that image fast) or a
//! container of this host, created or being created, is built on it; everything else is
//! removed when the runner starts, when an image is deleted, and when a container whose
//! image is already gone is removed (`docker rmi -f IMAGE`, then `docker rm`).
//!
//! It must never remove a snapshot a container stands on: the set in use is read under
//! the snapshots' gate, which creates hold until their record is saved.

use std::collections::HashSet;
use std::sync::Arc;

use berth_bus::subjects;
use berth_proto::v1::{InspectImageRequest, ListImagesRequest};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::Containers;
use super::record::Record;
use berth_snapshots::chain_ids;

impl Containers {
    /// The chain IDs of every image in the image store; `None` when the store cannot say,
    /// so nothing is taken for unused.
    async fn image_chains(&self) -> Option<HashSet<berth_oci::Digest>> {
        let mut store = self.image_store.clone();
        let images = store
            .list_images(ListImagesRequest {
                all: true,
                ..Default::default()
            })
            .await
            .ok()?
            .into_inner()
            .images;
        let mut chains = HashSet::new();
        for image in images {
            let Some(id) = image.id else { continue };
            let inspected = match store
                .inspect_image(InspectImageRequest {
                    reference: id.value.clone(),
                    platform: None,
                })
                .await
            {
                Ok(r) => r.into_inner(),
                // Deleted since the listing: nothing of it to keep.
                Err(s) if s.code() == tonic::Code::NotFound => continue,
                Err(_) => return None,
            };
            let config = berth_oci::config::parse_config(&inspected.config_json).ok()?;
            let diff_ids = berth_oci::config::diff_ids(&config).ok()?;
            chains.extend(chain_ids(&diff_ids));
        }
        Some(chains)
    }

    /// Removes the snapshots that no image and no container uses.
    pub async fn sweep_snapshots(&self) {
        let Some(images) = self.image_chains().await else {
            tracing::debug!("snapshot sweep skipped: the image store did not list its images");
            return;
        };
        let in_use = || {
            let records = self.records.all().ok()?;
            Some(records.into_iter().flat_map(|r| r.lowers).collect())
        };
        match self.snapshots.sweep(&images, in_use).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "unused snapshots removed"),
            Err(e) => tracing::warn!(error = %e, "snapshot sweep failed"),
        }
    }

    /// After `removed` is gone: when its image is gone too, the snapshots only it held
    /// are unused now, so ask for a sweep. Other removals leave every snapshot in use
    /// (the image keeps its chains), and cost no sweep. The remove does not wait for
    /// the check.
    pub fn collect_after_remove(self: &Arc<Self>, removed: &Record) {
        if removed.image_id.is_empty() {
            return;
        }
        let this = self.clone();
        let image_id = removed.image_id.clone();
        tokio::spawn(async move {
            let mut store = this.image_store.clone();
            let found = store
                .inspect_image(InspectImageRequest {
                    reference: image_id,
                    platform: None,
                })
                .await;
            if found.is_err_and(|s| s.code() == tonic::Code::NotFound) {
                this.snapshots.want_sweep();
            }
        });
    }

    /// Sweeps once now and again after every image deletion and every
    /// [`Containers::collect_after_remove`] that asks, until `stop`. Asks that arrive
    /// during a sweep make one more sweep, not one each.
    pub async fn start_snapshot_gc(
        self: &Arc<Self>,
        stop: CancellationToken,
    ) -> Result<(), berth_bus::BusError> {
        let mut deleted = self
            .bus
            .subscribe(&subjects::event("image", "delete"))
            .await?;
        let this = self.clone();
        let waker = self.clone();
        let stop2 = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop2.cancelled() => return,
                    m = deleted.next() => match m {
                        Some(_) => waker.snapshots.want_sweep(),
                        None => return,
                    },
                }
            }
        });
        self.snapshots.want_sweep();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = this.snapshots.sweep_wanted() => this.sweep_snapshots().await,
                }
            }
        });
        Ok(())
    }
}
