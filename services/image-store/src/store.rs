//! The image store's state and the operations that change it. gRPC handlers call these;
//! nothing here knows about gRPC.
//!
//! Metadata changes are serialised by one lock (`write`): image stores see few writes
//! compared with blob traffic, and one writer at a time makes Docker's rules (untag
//! before delete, conflicts on shared IDs) simple to get right. Blob bytes are written
//! outside the lock. GC takes the same lock, and skips blobs that a running import has
//! pinned or a lease protects.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use berth_bus::event::{Event, EventKind};
use berth_bus::{Bus, BusExt};
use berth_oci::{Digest, Reference};
use serde_json::Value;

use crate::blobs::BlobStore;
use crate::error::StoreError;
use crate::meta::{Blob, Changes, ImageRecord, Meta, TagRecord};
use crate::names::{self, Found};

/// Manifests and configs are small; anything bigger is not one.
pub const METADATA_LIMIT: u64 = 16 << 20;

/// The store: blobs on disk, metadata in redb.
#[derive(Debug)]
pub struct Store {
    pub blobs: BlobStore,
    pub meta: Meta,
    /// Held while metadata changes; see the module docs.
    pub write: tokio::sync::Mutex<()>,
    /// Blobs an operation in flight has written but not yet recorded: GC must not take
    /// them. Counted, since two imports may share a layer.
    pins: Mutex<HashMap<String, usize>>,
    bus: Arc<dyn Bus>,
}

/// Keeps blobs pinned for as long as it lives.
#[derive(Debug)]
pub struct Pins<'a> {
    store: &'a Store,
    digests: Vec<String>,
}

impl Pins<'_> {
    pub fn add(&mut self, digest: &Digest) {
        let d = digest.to_string();
        *self.store.pins_lock().entry(d.clone()).or_default() += 1;
        self.digests.push(d);
    }
}

impl Drop for Pins<'_> {
    fn drop(&mut self) {
        let mut pins = self.store.pins_lock();
        for d in &self.digests {
            if let Some(n) = pins.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    pins.remove(d);
                }
            }
        }
    }
}

pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default()
}

impl Store {
    pub fn open(root: &Path, bus: Arc<dyn Bus>) -> Result<Self, StoreError> {
        // The database's lock first: a second store on this root must fail before the
        // blob store clears the partial uploads of the live one.
        std::fs::create_dir_all(root).map_err(|e| StoreError::io(root.to_owned(), e))?;
        let meta = Meta::open(&root.join("meta.redb"))?;
        let blobs = BlobStore::open(root)?;
        Ok(Store {
            blobs,
            meta,
            write: tokio::sync::Mutex::new(()),
            pins: Mutex::new(HashMap::new()),
            bus,
        })
    }

    fn pins_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.pins.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn pins(&self) -> Pins<'_> {
        Pins {
            store: self,
            digests: Vec::new(),
        }
    }

    pub fn pinned(&self) -> HashSet<String> {
        self.pins_lock().keys().cloned().collect()
    }

    pub async fn emit(&self, kind: EventKind, action: &str, id: &str, name: Option<&str>) {
        let mut event = Event::now(kind, action, id);
        if let Some(n) = name {
            event = event.with_attribute("name", n);
        }
        if let Err(e) = self.bus.emit(&event).await {
            tracing::warn!(error = %e, action, "image event not published");
        }
    }

    /// Reads and parses a JSON blob (manifest, index, config).
    pub fn json_blob(&self, digest: &str) -> Result<(Vec<u8>, Value), StoreError> {
        let d: Digest = digest.parse()?;
        let bytes = self.blobs.read_all(&d, METADATA_LIMIT)?;
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            StoreError::InvalidArgument(format!("blob {digest} is not valid JSON: {e}"))
        })?;
        Ok((bytes, value))
    }

    /// Builds the record of the image that `target` (a manifest, or an index holding one
    /// for this host) describes. Every blob it names must be stored already.
    pub fn image_from_target(&self, target: Blob) -> Result<(String, ImageRecord), StoreError> {
        let (_, value) = self.json_blob(&target.digest)?;
        let manifest = if value.get("manifests").is_some() {
            choose_platform_manifest(&value).ok_or_else(|| {
                StoreError::InvalidArgument(format!(
                    "index {} has no manifest for {}",
                    target.digest,
                    berth_oci::Platform::host()
                ))
            })?
        } else {
            target.clone()
        };
        let (_, m) = self.json_blob(&manifest.digest)?;
        let config = blob_of(&m["config"]).ok_or_else(|| {
            StoreError::InvalidArgument(format!("manifest {} names no config", manifest.digest))
        })?;
        let layers: Vec<Blob> = m["layers"]
            .as_array()
            .map(|l| l.iter().filter_map(blob_of).collect())
            .unwrap_or_default();
        for blob in std::iter::once(&config).chain(&layers) {
            if !self.blobs.contains(&blob.digest.parse()?) {
                return Err(StoreError::InvalidArgument(format!(
                    "manifest {} names blob {} which is not stored",
                    manifest.digest, blob.digest
                )));
            }
        }
        let (_, c) = self.json_blob(&config.digest)?;
        let created = c["created"]
            .as_str()
            .and_then(|s| {
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
            })
            .map(|t| t.unix_timestamp())
            .unwrap_or_default();
        let labels: BTreeMap<String, String> = c["config"]["Labels"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let id = config.digest.clone();
        Ok((
            id,
            ImageRecord {
                target,
                manifest,
                config,
                layers,
                created,
                added_at: now_nanos(),
                labels,
                parent: None,
                repo_digests: Vec::new(),
            },
        ))
    }

    /// Records an image and points `names` at it (moving them off other images).
    /// Returns the image ID. Caller holds `write`.
    pub fn record_image(
        &self,
        id: &str,
        image: ImageRecord,
        names: &[Reference],
    ) -> Result<(), StoreError> {
        let mut changes = Changes::default();
        let mut image = image;
        if let Some(old) = self.meta.image(id)? {
            image.added_at = old.added_at;
            for d in old.repo_digests {
                if !image.repo_digests.contains(&d) {
                    image.repo_digests.push(d);
                }
            }
        }
        changes.put_images.push((id.to_owned(), image));
        let now = now_nanos();
        for name in names {
            changes.put_tags.push((
                name.to_string(),
                TagRecord {
                    image_id: id.to_owned(),
                    tagged_at: now,
                },
            ));
        }
        self.meta.write(changes)
    }

    /// Removes blobs a failed operation added, unless something else refers to them by
    /// now. Best effort: what it misses, the next GC takes.
    pub fn discard(&self, added: &[Digest]) {
        if added.is_empty() {
            return;
        }
        let _w = self.write.blocking_lock();
        let live = match self.live_blobs() {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot clean up after a failed load");
                return;
            }
        };
        for d in added {
            if !live.contains(&d.to_string()) {
                let _ = self.blobs.delete(d);
            }
        }
    }

    /// `docker tag SOURCE TARGET`.
    pub async fn tag(&self, source: &str, target: &str) -> Result<(), StoreError> {
        let target = Reference::parse(target)?;
        if target.digest().is_some() {
            return Err(StoreError::InvalidArgument(format!(
                "refusing to create a tag with a digest reference: {target}"
            )));
        }
        let _w = self.write.lock().await;
        let (id, _, _) = names::lookup(&self.meta, source)?;
        let mut changes = Changes::default();
        changes.put_tags.push((
            target.to_string(),
            TagRecord {
                image_id: id.clone(),
                tagged_at: now_nanos(),
            },
        ));
        self.meta.write(changes)?;
        drop(_w);
        self.emit(EventKind::Image, "tag", &id, Some(&target.familiar()))
            .await;
        Ok(())
    }
}

impl Store {
    /// Keeps `target` (`NAME@DIGEST`) as a RepoDigest of the image `source` names.
    pub async fn add_repo_digest(&self, source: &str, target: &str) -> Result<(), StoreError> {
        let target = Reference::parse_named(target)?;
        if target.digest().is_none() || target.tag().is_some() {
            return Err(StoreError::InvalidArgument(format!(
                "a repo digest is NAME@DIGEST, not {target}"
            )));
        }
        let _w = self.write.lock().await;
        let (id, mut image, _) = names::lookup(&self.meta, source)?;
        let full = target.to_string();
        if image.repo_digests.contains(&full) {
            return Ok(());
        }
        // One digest per repository, as Docker keeps it: the newest push or pull wins.
        let repository = format!("{}@", target.name());
        image.repo_digests.retain(|d| !d.starts_with(&repository));
        image.repo_digests.push(full);
        let mut changes = Changes::default();
        changes.put_images.push((id, image));
        self.meta.write(changes)
    }
}

fn blob_of(v: &Value) -> Option<Blob> {
    Some(Blob {
        media_type: v["mediaType"].as_str().unwrap_or_default().to_owned(),
        digest: v["digest"].as_str()?.to_owned(),
        size: v["size"].as_u64().unwrap_or_default(),
    })
}

/// The index entry for this host's platform, as Docker picks it.
fn choose_platform_manifest(index: &Value) -> Option<Blob> {
    let host = berth_oci::Platform::host();
    let entries = index["manifests"].as_array()?;
    let fits = |e: &&Value, strict_variant: bool| {
        let p = &e["platform"];
        p["os"].as_str() == Some(host.os.as_str())
            && p["architecture"].as_str() == Some(host.architecture.as_str())
            && (!strict_variant
                || p["variant"].as_str().unwrap_or("") == host.variant.as_deref().unwrap_or(""))
    };
    entries
        .iter()
        .find(|e| fits(e, true))
        .or_else(|| entries.iter().find(|e| fits(e, false)))
        // An index without platforms (as `docker save` of one image writes) has one entry.
        .or_else(|| entries.iter().find(|e| e.get("platform").is_none()))
        .and_then(blob_of)
}

/// Whether an image found by `found` in a delete keeps its other names.
pub fn names_to_remove(
    found: &Found,
    tags: &[(String, String)],
    force: bool,
    id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    match found {
        Found::Name(reference) => Ok(tags
            .iter()
            .filter(|(full, _)| *full == reference.to_string())
            .cloned()
            .collect()),
        Found::Id if tags.len() > 1 && !force => Err(StoreError::Conflict(format!(
            "unable to delete {} (must be forced) - image is referenced in multiple repositories",
            &id.trim_start_matches("sha256:")[..12]
        ))),
        Found::Id => Ok(tags.to_vec()),
    }
}
