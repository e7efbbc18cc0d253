//! The volume table in `volumes.redb`: what `docker volume inspect` shows about each
//! volume. The data itself lives in the volume's directory; this table only describes it,
//! and a volume exists exactly when its row does.

use std::collections::BTreeMap;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{ANONYMOUS_LABEL, VolumeError};

/// Volume name -> [`VolumeRecord`] as JSON.
const VOLUMES: TableDefinition<&str, &[u8]> = TableDefinition::new("volumes");

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

fn err(e: impl std::fmt::Display) -> VolumeError {
    VolumeError::Store(e.to_string())
}

#[derive(Debug)]
pub struct VolumeStore {
    db: Database,
}

impl VolumeStore {
    pub fn open(path: &Path) -> Result<Self, VolumeError> {
        let db = Database::create(path).map_err(err)?;
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(VOLUMES).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(VolumeStore { db })
    }

    pub fn put(&self, volume: &VolumeRecord) -> Result<(), VolumeError> {
        let json = serde_json::to_vec(volume).map_err(err)?;
        let tx = self.db.begin_write().map_err(err)?;
        tx.open_table(VOLUMES)
            .map_err(err)?
            .insert(volume.name.as_str(), json.as_slice())
            .map_err(err)?;
        tx.commit().map_err(err)
    }

    pub fn remove(&self, name: &str) -> Result<(), VolumeError> {
        let tx = self.db.begin_write().map_err(err)?;
        tx.open_table(VOLUMES)
            .map_err(err)?
            .remove(name)
            .map_err(err)?;
        tx.commit().map_err(err)
    }

    pub fn get(&self, name: &str) -> Result<Option<VolumeRecord>, VolumeError> {
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(VOLUMES).map_err(err)?;
        let Some(row) = table.get(name).map_err(err)? else {
            return Ok(None);
        };
        serde_json::from_slice(row.value()).map(Some).map_err(err)
    }

    pub fn all(&self) -> Result<Vec<VolumeRecord>, VolumeError> {
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(VOLUMES).map_err(err)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(err)? {
            let (_, v) = row.map_err(err)?;
            out.push(serde_json::from_slice(v.value()).map_err(err)?);
        }
        Ok(out)
    }
}
