//! Unpacked layers, once per host: `snapshots/<chain id>/fs`, each holding one layer's
//! files with overlayfs whiteouts, shared read-only by every container of every image
//! that has that chain. A container's root is an overlay of them with its own upper dir.
//!
//! A snapshot is visible only once complete: the layer is downloaded to a temporary file
//! and its digest checked, unpacked into a staging directory, its diff ID checked, then
//! renamed into place. Two creates of the same image wait for one unpack.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_oci::{Digest, DigestWriter};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::io::AsyncWriteExt;

/// Why a blob could not be read; the source's own error, passed on as it is.
pub type BlobError = Box<dyn std::error::Error + Send + Sync>;

/// Where layer blobs come from: the image store for a runner, the build's own store for
/// a builder. Snapshots check every byte against the digest asked for, so a source need
/// not be trusted.
#[async_trait::async_trait]
pub trait BlobSource: Send + Sync {
    /// The blob's bytes, in order, from the start.
    async fn read_blob(
        &self,
        digest: &Digest,
    ) -> Result<BoxStream<'static, Result<bytes::Bytes, BlobError>>, BlobError>;
}

/// Why a snapshot could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("fetching layer {digest} from the image store: {source}")]
    Fetch {
        digest: String,
        #[source]
        source: BlobError,
    },
    #[error(
        "layer {digest} arrived corrupted: expected {expected} got {actual}; try again, and check the image store's disk if it repeats"
    )]
    Corrupt {
        digest: String,
        expected: String,
        actual: String,
    },
    #[error(
        "layer {digest} unpacks to more than {cap} bytes, over {max_expansion} times its {compressed} compressed bytes: refused as a decompression bomb; if the image is trusted, start the runner with a higher --layer-max-expansion or --layer-unpack-floor"
    )]
    TooLarge {
        digest: String,
        cap: u64,
        compressed: u64,
        max_expansion: u64,
    },
    #[error("unpacking layer {digest}: {source}")]
    Unpack {
        digest: String,
        #[source]
        source: berth_layer::LayerError,
    },
    #[error("the image has {layers} layers but {diff_ids} diff IDs in its config")]
    Mismatch { layers: usize, diff_ids: usize },
    #[error("invalid digest: {0}")]
    Digest(#[from] berth_oci::OciError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The chain ID of a layer stack (OCI image spec): the identity of "these layers, in
/// this order", which is what an unpacked directory stands for.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff in diff_ids {
        let next = match out.last() {
            None => diff.clone(),
            Some(parent) => Digest::of(format!("{parent} {diff}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// How far a layer may unpack: `max(max_expansion x compressed size, floor)` bytes of
/// tar stream. The codec's own limit (64 GiB) bounds any one layer but lets a 2 MB gzip
/// of zeros fill gigabytes of disk; this ties the bound to what was actually sent.
#[derive(Debug, Clone, Copy)]
pub struct UnpackCap {
    pub max_expansion: u64,
    pub floor: u64,
}

impl Default for UnpackCap {
    /// The runner's flags' defaults.
    fn default() -> Self {
        UnpackCap {
            max_expansion: 100,
            floor: 1 << 30,
        }
    }
}

impl UnpackCap {
    fn for_compressed(&self, compressed: u64) -> u64 {
        self.max_expansion
            .saturating_mul(compressed)
            .max(self.floor)
    }
}

/// The host's unpacked layers.
#[derive(Debug)]
pub struct Snapshots {
    root: PathBuf,
    cap: UnpackCap,
    /// Creates hold it shared from their first unpack until their record is saved; a
    /// sweep holds it alone while it picks what to remove, so it never takes a snapshot a
    /// container is being created on. A sweep only ever takes it when it is free (see
    /// [`Snapshots::sweep`]), so creates never queue behind one.
    gate: tokio::sync::RwLock<()>,
    /// Wakes a sweep that found creates midway, as each create's lease ends.
    lease_ended: tokio::sync::Notify,
    /// Asks the collector for a sweep; many asks while one runs make one more.
    sweep_wanted: tokio::sync::Notify,
    // Held only to look up or insert a lock, never across an await.
    unpacking: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Snapshots {
    pub fn open(root: &Path, cap: UnpackCap) -> Result<Self, SnapshotError> {
        std::fs::create_dir_all(root.join("tmp")).map_err(io(root))?;
        // Leftovers of a crash mid-unpack: never visible, safe to drop.
        let tmp = root.join("tmp");
        for entry in std::fs::read_dir(&tmp).map_err(io(&tmp))?.flatten() {
            let _ = std::fs::remove_dir_all(entry.path())
                .or_else(|_| std::fs::remove_file(entry.path()));
        }
        Ok(Snapshots {
            root: root.to_owned(),
            cap,
            gate: tokio::sync::RwLock::new(()),
            lease_ended: tokio::sync::Notify::new(),
            sweep_wanted: tokio::sync::Notify::new(),
            unpacking: Mutex::default(),
        })
    }

    /// Keeps every snapshot from removal while the guard lives: a create takes it before
    /// unpacking and drops it once its record (which names its snapshots) is saved.
    pub async fn lease(&self) -> SnapshotLease<'_> {
        SnapshotLease {
            guard: Some(self.gate.read().await),
            ended: &self.lease_ended,
        }
    }

    /// Asks for a sweep soon (see `Containers::start_snapshot_gc`).
    pub fn want_sweep(&self) {
        self.sweep_wanted.notify_one();
    }

    /// Returns once a sweep has been asked for since the last return.
    pub async fn sweep_wanted(&self) {
        self.sweep_wanted.notified().await
    }

    /// The gate alone, taken only while no create holds a lease. tokio's lock is fair: a
    /// sweep queued for it would make every create that comes after wait for the
    /// slowest unpack under way; retrying as leases end makes the sweep wait instead.
    async fn gate_when_idle(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        loop {
            let ended = self.lease_ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if let Ok(alone) = self.gate.try_write() {
                return alone;
            }
            ended.await;
        }
    }

    /// Removes every snapshot whose chain ID is neither in `images` (the chains of the
    /// images the image store holds) nor under a container that `in_use` lists (read
    /// once no create is midway, so a container being created counts). Returns how many
    /// went.
    pub async fn sweep(
        &self,
        images: &std::collections::HashSet<Digest>,
        in_use: impl FnOnce() -> Option<Vec<PathBuf>>,
    ) -> Result<usize, SnapshotError> {
        let doomed = {
            let _alone = self.gate_when_idle().await;
            // Without the containers' list, nothing is known to be free.
            let Some(lowers) = in_use() else {
                return Ok(0);
            };
            let mut keep: std::collections::HashSet<Digest> = images.clone();
            for lower in lowers {
                if let Some(chain) = lower
                    .strip_prefix(&self.root)
                    .ok()
                    .and_then(|rel| rel.components().next())
                    .and_then(|c| Digest::from_hex(&c.as_os_str().to_string_lossy()).ok())
                {
                    keep.insert(chain);
                }
            }
            let mut doomed = Vec::new();
            for entry in std::fs::read_dir(&self.root)
                .map_err(io(&self.root))?
                .flatten()
            {
                // Only snapshot directories are named by a chain ID (not `tmp/`).
                let Ok(chain) = Digest::from_hex(&entry.file_name().to_string_lossy()) else {
                    continue;
                };
                if keep.contains(&chain) {
                    continue;
                }
                // Out of sight at once (a rename), removed at leisure: a create that
                // starts now unpacks it anew rather than finding it half-deleted.
                let grave = self
                    .root
                    .join("tmp")
                    .join(format!("{}.gc", uuid::Uuid::new_v4().simple()));
                std::fs::rename(entry.path(), &grave).map_err(io(&entry.path()))?;
                doomed.push(grave);
            }
            doomed
        };
        let count = doomed.len();
        tokio::task::spawn_blocking(move || {
            for dir in doomed {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!(dir = %dir.display(), error = %e, "removing an unused snapshot");
                }
            }
        })
        .await
        .map_err(|e| SnapshotError::Io {
            path: PathBuf::from("snapshot sweep"),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(count)
    }

    /// The directory of the snapshot for `chain`.
    pub fn dir(&self, chain: &Digest) -> PathBuf {
        self.root.join(chain.hex()).join("fs")
    }

    fn lock(&self, chain: &Digest) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.unpacking.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, l| Arc::strong_count(l) > 1);
        map.entry(chain.to_string()).or_default().clone()
    }

    /// Makes sure every layer is unpacked; returns their directories, bottom layer first.
    pub async fn ensure(
        &self,
        store: &dyn BlobSource,
        layers: &[Digest],
        diff_ids: &[Digest],
    ) -> Result<Vec<PathBuf>, SnapshotError> {
        if layers.len() != diff_ids.len() {
            return Err(SnapshotError::Mismatch {
                layers: layers.len(),
                diff_ids: diff_ids.len(),
            });
        }
        let mut dirs = Vec::new();
        for ((layer, diff_id), chain) in layers.iter().zip(diff_ids).zip(chain_ids(diff_ids)) {
            let dir = self.dir(&chain);
            if !dir.is_dir() {
                let lock = self.lock(&chain);
                let _held = lock.lock().await;
                if !dir.is_dir() {
                    self.unpack(store, layer, diff_id, &dir).await?;
                }
            }
            dirs.push(dir);
        }
        Ok(dirs)
    }

    async fn unpack(
        &self,
        store: &dyn BlobSource,
        digest: &Digest,
        diff_id: &Digest,
        dir: &Path,
    ) -> Result<(), SnapshotError> {
        let download = self
            .root
            .join("tmp")
            .join(format!("{}.layer", uuid::Uuid::new_v4().simple()));
        let fetched = self.fetch(store, digest, &download).await;
        let result = match fetched {
            Ok(()) => {
                let (download, dir, diff_id, digest, cap) = (
                    download.clone(),
                    dir.to_owned(),
                    diff_id.clone(),
                    digest.clone(),
                    self.cap,
                );
                tokio::task::spawn_blocking(move || {
                    unpack_file(&download, &dir, &diff_id, &digest, cap)
                })
                .await
                .map_err(|e| SnapshotError::Io {
                    path: PathBuf::from("unpack task"),
                    source: std::io::Error::other(e.to_string()),
                })?
            }
            Err(e) => Err(e),
        };
        let _ = tokio::fs::remove_file(&download).await;
        result
    }

    /// Streams a blob into `path`, checking its digest on the way.
    async fn fetch(
        &self,
        store: &dyn BlobSource,
        digest: &Digest,
        path: &Path,
    ) -> Result<(), SnapshotError> {
        let fetch_err = |source| SnapshotError::Fetch {
            digest: digest.to_string(),
            source,
        };
        let mut stream = store.read_blob(digest).await.map_err(fetch_err)?;
        let mut file = tokio::fs::File::create(path).await.map_err(io(path))?;
        let mut hasher = DigestWriter::new(std::io::sink());
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(fetch_err)?;
            std::io::Write::write_all(&mut hasher, &chunk).map_err(io(path))?;
            file.write_all(&chunk).await.map_err(io(path))?;
        }
        file.flush().await.map_err(io(path))?;
        let (_, actual, _) = hasher.finish();
        if actual != *digest {
            return Err(SnapshotError::Corrupt {
                digest: digest.to_string(),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }
}

/// A create's hold on every snapshot ([`Snapshots::lease`]).
#[derive(Debug)]
pub struct SnapshotLease<'a> {
    guard: Option<tokio::sync::RwLockReadGuard<'a, ()>>,
    ended: &'a tokio::sync::Notify,
}

impl Drop for SnapshotLease<'_> {
    fn drop(&mut self) {
        // Released first, so a sweep woken here finds the gate free.
        self.guard.take();
        self.ended.notify_waiters();
    }
}

/// Unpacks a downloaded layer into `dir` via a staging directory; checks the diff ID.
fn unpack_file(
    download: &Path,
    dir: &Path,
    diff_id: &Digest,
    digest: &Digest,
    cap: UnpackCap,
) -> Result<(), SnapshotError> {
    let parent = dir.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let staging = parent.join("fs.staging");
    let _ = std::fs::remove_dir_all(&staging);
    let file = std::fs::File::open(download).map_err(io(download))?;
    let compressed = file.metadata().map_err(io(download))?.len();
    let mut options = berth_layer::ApplyOptions {
        whiteout_format: berth_layer::WhiteoutFormat::Overlay,
        ..Default::default()
    };
    let max_total = cap.for_compressed(compressed);
    options.limits.max_total_bytes = options.limits.max_total_bytes.min(max_total);
    let unpacked = berth_layer::apply_to_new_dir(file, &staging, &options).map_err(|source| {
        // What was written before the limit hit must not stay on disk either.
        let _ = std::fs::remove_dir_all(&staging);
        match source {
            berth_layer::LayerError::LimitExceeded {
                limit: berth_layer::Limit::TotalBytes,
                max,
                ..
            } if max == max_total => SnapshotError::TooLarge {
                digest: digest.to_string(),
                cap: max,
                compressed,
                max_expansion: cap.max_expansion,
            },
            source => SnapshotError::Unpack {
                digest: digest.to_string(),
                source,
            },
        }
    })?;
    let actual = format!("sha256:{}", unpacked.diff_id.hex());
    if actual != diff_id.to_string() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(SnapshotError::Corrupt {
            digest: digest.to_string(),
            expected: format!("diff ID {diff_id}"),
            actual,
        });
    }
    std::fs::rename(&staging, dir).map_err(io(dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_image_spec() {
        let a: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let b: Digest = format!("sha256:{}", "b".repeat(64)).parse().unwrap();
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a, "the first chain ID is the first diff ID");
        assert_eq!(ids[1], Digest::of(format!("{a} {b}").as_bytes()));
        assert_ne!(chain_ids(&[b, a])[1], ids[1], "order matters");
    }
}
