//! The image store's metadata, in one redb file: names, images, leases and the build cache.
//! Every change is one redb transaction, so a crash leaves the old state or the new one.
//!
//! Records are JSON: they are small, read rarely compared with blobs, and stay readable
//! with any redb tool when something needs debugging.

use std::collections::BTreeMap;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Full normalised reference (`docker.io/library/busybox:latest`) -> [`TagRecord`].
const TAGS: TableDefinition<&str, &[u8]> = TableDefinition::new("tags");
/// Image ID (`sha256:` + config digest) -> [`ImageRecord`].
const IMAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("images");
/// Lease ID -> [`LeaseRecord`].
const LEASES: TableDefinition<&str, &[u8]> = TableDefinition::new("leases");
/// Build cache key -> [`CacheRecord`].
const CACHE: TableDefinition<&str, &[u8]> = TableDefinition::new("cache");

/// A blob as manifests name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRecord {
    /// The image the name points at.
    pub image_id: String,
    /// Unix nanoseconds.
    pub tagged_at: i64,
}

/// One image: a platform manifest, its config and layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// What was stored as the image: an index, or the manifest itself.
    pub target: Blob,
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Blob>,
    /// From the config, Unix seconds; 0 when absent.
    pub created: i64,
    /// When this store got it, Unix nanoseconds.
    pub added_at: i64,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub parent: Option<String>,
    /// `NAME@DIGEST` where a registry serves it (Docker's RepoDigests), full form.
    #[serde(default)]
    pub repo_digests: Vec<String>,
}

impl ImageRecord {
    /// Every blob the image needs, for GC.
    pub fn blobs(&self) -> impl Iterator<Item = &str> {
        [&self.target, &self.manifest, &self.config]
            .into_iter()
            .chain(&self.layers)
            .map(|b| b.digest.as_str())
    }

    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// Unix seconds.
    pub expires_at: i64,
    pub protect: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheRecord {
    pub result: String,
    pub retains: Vec<String>,
    pub description: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub size: u64,
}

/// The metadata database.
#[derive(Debug)]
pub struct Meta {
    db: Database,
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        key: key.to_owned(),
        source,
    })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain records of strings and numbers: serialising cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// One write transaction's worth of changes, applied together by [`Meta::write`].
#[derive(Debug, Default)]
pub struct Changes {
    pub put_tags: Vec<(String, TagRecord)>,
    pub delete_tags: Vec<String>,
    pub put_images: Vec<(String, ImageRecord)>,
    pub delete_images: Vec<String>,
    pub put_leases: Vec<(String, LeaseRecord)>,
    pub delete_leases: Vec<String>,
    pub put_cache: Vec<(String, CacheRecord)>,
    pub delete_cache: Vec<String>,
}

impl Meta {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        for table in [TAGS, IMAGES, LEASES, CACHE] {
            tx.open_table(table)?;
        }
        tx.commit()?;
        Ok(Meta { db })
    }

    fn all<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(table)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            let key = k.value().to_owned();
            let value = decode(&key, v.value())?;
            out.push((key, value));
        }
        Ok(out)
    }

    fn get<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(table)?;
        t.get(key)?.map(|v| decode(key, v.value())).transpose()
    }

    pub fn tags(&self) -> Result<Vec<(String, TagRecord)>, StoreError> {
        self.all(TAGS)
    }

    pub fn tag(&self, name: &str) -> Result<Option<TagRecord>, StoreError> {
        self.get(TAGS, name)
    }

    pub fn images(&self) -> Result<Vec<(String, ImageRecord)>, StoreError> {
        self.all(IMAGES)
    }

    pub fn image(&self, id: &str) -> Result<Option<ImageRecord>, StoreError> {
        self.get(IMAGES, id)
    }

    pub fn leases(&self) -> Result<Vec<(String, LeaseRecord)>, StoreError> {
        self.all(LEASES)
    }

    pub fn lease(&self, id: &str) -> Result<Option<LeaseRecord>, StoreError> {
        self.get(LEASES, id)
    }

    pub fn cache_entries(&self) -> Result<Vec<(String, CacheRecord)>, StoreError> {
        self.all(CACHE)
    }

    pub fn cache_entry(&self, key: &str) -> Result<Option<CacheRecord>, StoreError> {
        self.get(CACHE, key)
    }

    /// Applies `changes` atomically.
    pub fn write(&self, changes: Changes) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut tags = tx.open_table(TAGS)?;
            for k in &changes.delete_tags {
                tags.remove(k.as_str())?;
            }
            for (k, v) in &changes.put_tags {
                tags.insert(k.as_str(), encode(v).as_slice())?;
            }
            let mut images = tx.open_table(IMAGES)?;
            for k in &changes.delete_images {
                images.remove(k.as_str())?;
            }
            for (k, v) in &changes.put_images {
                images.insert(k.as_str(), encode(v).as_slice())?;
            }
            let mut leases = tx.open_table(LEASES)?;
            for k in &changes.delete_leases {
                leases.remove(k.as_str())?;
            }
            for (k, v) in &changes.put_leases {
                leases.insert(k.as_str(), encode(v).as_slice())?;
            }
            let mut cache = tx.open_table(CACHE)?;
            for k in &changes.delete_cache {
                cache.remove(k.as_str())?;
            }
            for (k, v) in &changes.put_cache {
                cache.insert(k.as_str(), encode(v).as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
