//! The volume table in `volumes.redb`: what `docker volume inspect` shows about each
//! volume. The data itself lives in the volume's directory; this table only describes it,
//! and a volume exists exactly when its row does.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ANONYMOUS_LABEL, VolumeError};
use crate::table::JsonTable;

/// Volume name -> [`VolumeRecord`] as JSON.
const VOLUMES: &str = "volumes";

/// One volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    /// Always "local" today; kept so other drivers can come without a migration.
    pub driver: String,
    /// Unix nanoseconds.
    pub created: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl VolumeRecord {
    /// Made for a container without a name (`-v /path`, an image's `VOLUME`); Docker marks
    /// those with a label, and `docker volume prune` only takes those unless told `all`.
    pub fn anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
}

/// The volume table.
#[derive(Debug)]
pub struct VolumeStore {
    table: JsonTable<VolumeRecord>,
}

impl VolumeStore {
    pub fn open(path: &Path) -> Result<Self, VolumeError> {
        let table = JsonTable::open(path, VOLUMES, "volume metadata", |_| Ok(()))?;
        Ok(VolumeStore { table })
    }

    pub fn put(&self, volume: &VolumeRecord) -> Result<(), VolumeError> {
        Ok(self.table.put(&volume.name, volume)?)
    }

    pub fn remove(&self, name: &str) -> Result<(), VolumeError> {
        Ok(self.table.remove(name)?)
    }

    pub fn get(&self, name: &str) -> Result<Option<VolumeRecord>, VolumeError> {
        Ok(self.table.get(name)?)
    }

    pub fn all(&self) -> Result<Vec<VolumeRecord>, VolumeError> {
        Ok(self.table.all()?)
    }
}
