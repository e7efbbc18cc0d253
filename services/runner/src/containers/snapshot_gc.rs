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
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::Containers;
use super::record::Record;
use crate::error::ErrorKind;
use berth_snapshots::chain_ids;

impl Containers {
    /// The chain IDs of every image in the image store; `None` when the store cannot say,
    /// so nothing is taken for unused.
    async fn image_chains(&self) -> Option<HashSet<berth_oci::Digest>> {
        let ids = self.images.image_ids().await.ok()?;
        let mut chains = HashSet::new();
        for id in ids {
            let config_json = match self.images.config(&id).await {
                Ok(c) => c,
                // Deleted since the listing: nothing of it to keep.
                Err(e) if e.kind == ErrorKind::NotFound => continue,
                Err(_) => return None,
            };
            let config = berth_oci::config::parse_config(&config_json).ok()?;
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
            let found = this.images.config(&image_id).await;
            if found.is_err_and(|e| e.kind == ErrorKind::NotFound) {
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
