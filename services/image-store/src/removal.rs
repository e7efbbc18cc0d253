//! Removing images and the blobs nothing needs: `docker rmi`, `docker image prune`, GC.

use std::collections::HashSet;

use berth_bus::event::EventKind;
use berth_oci::Digest;

use crate::error::StoreError;
use crate::meta::Changes;
use crate::names;
use crate::store::{Store, names_to_remove, now_nanos};

/// One line of Docker's delete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    Untagged(String),
    Deleted(String),
}

/// What a GC pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Collected {
    pub blobs: u64,
    pub bytes: u64,
}

impl Store {
    /// `docker rmi NAME`: by name, untag that name and delete the image if it was the
    /// last; by ID, delete the image (with all its names only when forced, if it has
    /// several). Blobs no other image needs are freed at once.
    pub async fn delete_image(&self, text: &str, force: bool) -> Result<Vec<Removed>, StoreError> {
        let w = self.write.lock().await;
        let (id, _, found) = names::lookup(&self.meta, text)?;
        let tags = names::tags_of(&self.meta, &id)?;
        let untag = names_to_remove(&found, &tags, force, &id)?;
        let delete = untag.len() == tags.len();
        let mut changes = Changes::default();
        let mut removed = Vec::new();
        for (full, familiar) in &untag {
            changes.delete_tags.push(full.clone());
            removed.push(Removed::Untagged(familiar.clone()));
        }
        if delete {
            changes.delete_images.push(id.clone());
            removed.push(Removed::Deleted(id.clone()));
        }
        self.meta.write(changes)?;
        if delete {
            self.collect_locked()?;
        }
        drop(w);
        for r in &removed {
            match r {
                Removed::Untagged(name) => {
                    self.emit(EventKind::Image, "untag", &id, Some(name)).await
                }
                Removed::Deleted(_) => self.emit(EventKind::Image, "delete", &id, None).await,
            }
        }
        Ok(removed)
    }

    /// `docker image prune`: untagged images (all unused ones with `dangling=false`),
    /// except those `keep` names (used by containers) and those filtered out.
    pub async fn prune(
        &self,
        dangling_only: bool,
        until: Option<i64>,
        labels: &[String],
        not_labels: &[String],
        keep: &HashSet<String>,
    ) -> Result<(Vec<Removed>, u64), StoreError> {
        let w = self.write.lock().await;
        let tags = self.meta.tags()?;
        let label_matches = |image: &crate::meta::ImageRecord, l: &str| {
            berth_filters::label_matches(&image.labels, l)
        };
        let mut changes = Changes::default();
        let mut removed = Vec::new();
        for (id, image) in self.meta.images()? {
            let names: Vec<&String> = tags
                .iter()
                .filter(|(_, t)| t.image_id == id)
                .map(|(n, _)| n)
                .collect();
            if keep.contains(&id) || (dangling_only && !names.is_empty()) {
                continue;
            }
            if until.is_some_and(|u| image.created >= u)
                || !labels.iter().all(|l| label_matches(&image, l))
                || not_labels.iter().any(|l| label_matches(&image, l))
            {
                continue;
            }
            for full in names {
                let familiar = berth_oci::Reference::parse(full)
                    .map(|r| r.familiar())
                    .unwrap_or_else(|_| full.clone());
                changes.delete_tags.push(full.clone());
                removed.push(Removed::Untagged(familiar));
            }
            changes.delete_images.push(id.clone());
            removed.push(Removed::Deleted(id));
        }
        self.meta.write(changes)?;
        let collected = self.collect_locked()?;
        drop(w);
        for r in &removed {
            if let Removed::Deleted(id) = r {
                self.emit(EventKind::Image, "delete", id, None).await;
            }
        }
        Ok((removed, collected.bytes))
    }

    /// A GC pass on request.
    pub async fn collect(&self, dry_run: bool) -> Result<Collected, StoreError> {
        let _w = self.write.lock().await;
        if dry_run {
            let live = self.live_blobs()?;
            let mut c = Collected::default();
            for d in self.blobs.list()? {
                if !live.contains(&d.to_string()) {
                    c.blobs += 1;
                    c.bytes += self.blobs.stat(&d)?.map(|i| i.size).unwrap_or(0);
                }
            }
            return Ok(c);
        }
        self.collect_locked()
    }

    /// Mark and sweep: every blob reachable from an image, a name, a lease, a cache entry
    /// or a running operation stays; the rest goes. Caller holds `write`.
    fn collect_locked(&self) -> Result<Collected, StoreError> {
        let live = self.live_blobs()?;
        let mut c = Collected::default();
        for digest in self.blobs.list()? {
            if !live.contains(&digest.to_string()) {
                let freed = self.blobs.delete(&digest)?;
                c.blobs += 1;
                c.bytes += freed;
            }
        }
        // Uploads nobody touched for a day will never be resumed.
        self.blobs
            .remove_stale_ingests(std::time::Duration::from_secs(24 * 3600))?;
        if c.blobs > 0 {
            tracing::info!(blobs = c.blobs, bytes = c.bytes, "garbage collected");
        }
        Ok(c)
    }

    pub(crate) fn live_blobs(&self) -> Result<HashSet<String>, StoreError> {
        let mut live = self.pinned();
        for (_, image) in self.meta.images()? {
            live.extend(image.blobs().map(str::to_owned));
        }
        let now = now_nanos() / 1_000_000_000;
        let mut expired = Vec::new();
        for (id, lease) in self.meta.leases()? {
            if lease.expires_at <= now {
                expired.push(id);
            } else {
                live.extend(lease.protect);
            }
        }
        if !expired.is_empty() {
            self.meta.write(Changes {
                delete_leases: expired,
                ..Default::default()
            })?;
        }
        for (_, entry) in self.meta.cache_entries()? {
            live.insert(entry.result);
            live.extend(entry.retains);
        }
        // A blob protected by name must still parse as a digest to be swept; anything
        // else in the set is harmless.
        live.retain(|d| d.parse::<Digest>().is_ok());
        Ok(live)
    }
}
