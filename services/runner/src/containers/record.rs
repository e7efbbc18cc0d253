//! What the runner remembers about each container, in its redb file: enough to list,
//! inspect and remove it, and to find it again after a restart. The live state (running,
//! exit code, OOM) comes from the runtime's monitor, never from here.

use std::path::{Path, PathBuf};

use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::spec::ContainerSpec;
use crate::table::{JsonTable, TableError};

/// Container ID -> [`Record`] as JSON.
const RECORDS: &str = "containers";
/// Container ID -> the create request's [`ContainerSpec`] as JSON, kept as the client
/// sent it (inspect shows it back).
const SPECS: TableDefinition<&str, &[u8]> = TableDefinition::new("container_specs");
/// What runners before 0.1's domain types wrote: the spec as protobuf. Read once at
/// start and rewritten into [`SPECS`] by the caller, who knows the encoding.
const LEGACY_SPECS: TableDefinition<&str, &[u8]> = TableDefinition::new("specs");
/// Container ID -> Unix nanoseconds: creates under way. Written before the runtime makes
/// anything and removed with the record's first write (or a failed create's cleanup), so
/// what a crash leaves mid-create is found at the next start.
const CREATING: TableDefinition<&str, i64> = TableDefinition::new("creating");
/// `<container ID> <volume name>` -> Unix nanoseconds: volumes a create under way is
/// about to make, written before each is made and removed with [`CREATING`]'s row, so
/// the anonymous volumes of a create cut short by a crash are found and removed too.
const CREATING_VOLUMES: TableDefinition<&str, i64> = TableDefinition::new("creating_volumes");

fn volume_key(id: &str, volume: &str) -> String {
    format!("{id} {volume}")
}

/// Removes `id`'s rows from [`CREATING_VOLUMES`].
fn forget_volume_intents(
    table: &JsonTable<Record>,
    tx: &redb::WriteTransaction,
    id: &str,
) -> Result<(), TableError> {
    let prefix = volume_key(id, "");
    tx.open_table(CREATING_VOLUMES)
        .map_err(|e| table.error(e))?
        .retain(|k, _| !k.starts_with(&prefix))
        .map_err(|e| table.error(e))
}

/// One container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// Without Docker's leading slash.
    pub name: String,
    /// Unix nanoseconds.
    pub created: i64,
    /// The image as the user named it.
    pub image: String,
    pub image_id: String,
    /// The process: entrypoint and command, resolved against the image.
    pub args: Vec<String>,
    /// The snapshots under its root, bottom first.
    pub lowers: Vec<PathBuf>,
    pub auto_remove: bool,
    pub log_path: PathBuf,
    pub network_mode: String,
    /// What `--publish`/`-P` asked for.
    #[serde(default)]
    pub publish: Vec<berth_network::PortSpec>,
    /// The networks it belongs to, in joining order, with their endpoints while it
    /// runs.
    #[serde(default)]
    pub networks: Vec<crate::networks::Membership>,
    /// The published ports as bound while it runs (a `-P` or `::80` got a real port).
    #[serde(default)]
    pub ports: Vec<berth_network::PortSpec>,
    /// How often its restart policy started it again (Docker's RestartCount).
    #[serde(default)]
    pub restart_count: u32,
    /// `docker stop` or `docker kill` ended its last run: the restart policy holds off
    /// until it is started again (Docker's HasBeenManuallyStopped).
    #[serde(default)]
    pub manually_stopped: bool,
    /// Binds, volumes and `--mount` tmpfs, as inspect shows them; also what tells which
    /// volumes are in use.
    #[serde(default)]
    pub mounts: Vec<super::mounts::MountRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("multiple containers found with provided prefix: {0}")]
    Ambiguous(String),
    #[error("container metadata: the create request of {id} does not decode: {source}")]
    Spec {
        id: String,
        #[source]
        source: serde_json::Error,
    },
}

impl crate::error::Classified for RecordError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            RecordError::Ambiguous(_) => crate::error::ErrorKind::Invalid,
            _ => crate::error::ErrorKind::Internal,
        }
    }
}

/// The container table, with the tables that share its transactions: the create
/// requests and the creates under way.
#[derive(Debug)]
pub struct Records {
    table: JsonTable<Record>,
}

impl Records {
    pub fn open(path: &Path) -> Result<Self, RecordError> {
        let table = JsonTable::open(path, RECORDS, "container metadata", |tx| {
            tx.open_table(SPECS)?;
            tx.open_table(LEGACY_SPECS)?;
            tx.open_table(CREATING)?;
            tx.open_table(CREATING_VOLUMES)?;
            Ok(())
        })?;
        Ok(Records { table })
    }

    fn error(&self, e: impl Into<redb::Error>) -> RecordError {
        self.table.error(e).into()
    }

    /// Records that a create of `id` begins; [`Records::put`] or [`Records::abandon`]
    /// ends it.
    pub fn intend(&self, id: &str) -> Result<(), RecordError> {
        let tx = self.table.begin_write()?;
        tx.open_table(CREATING)
            .map_err(|e| self.error(e))?
            .insert(id, crate::now_nanos())
            .map_err(|e| self.error(e))?;
        Ok(self.table.commit(tx)?)
    }

    /// Records that the create of `id` is about to make the volume `volume`; the row
    /// goes with the create's intent.
    pub fn intend_volume(&self, id: &str, volume: &str) -> Result<(), RecordError> {
        let tx = self.table.begin_write()?;
        tx.open_table(CREATING_VOLUMES)
            .map_err(|e| self.error(e))?
            .insert(volume_key(id, volume).as_str(), crate::now_nanos())
            .map_err(|e| self.error(e))?;
        Ok(self.table.commit(tx)?)
    }

    /// Ends a create that failed and was cleaned up.
    pub fn abandon(&self, id: &str) -> Result<(), RecordError> {
        let tx = self.table.begin_write()?;
        tx.open_table(CREATING)
            .map_err(|e| self.error(e))?
            .remove(id)
            .map_err(|e| self.error(e))?;
        forget_volume_intents(&self.table, &tx, id)?;
        Ok(self.table.commit(tx)?)
    }

    /// Creates begun and never finished: after a crash, what they made has no record.
    pub fn intents(&self) -> Result<Vec<String>, RecordError> {
        let mut out: Vec<String> = self
            .volume_intents()?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let tx = self.table.begin_read()?;
        let table = tx.open_table(CREATING).map_err(|e| self.error(e))?;
        for row in table.iter().map_err(|e| self.error(e))? {
            let (k, _) = row.map_err(|e| self.error(e))?;
            out.push(k.value().to_owned());
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// (container ID, volume name) of every volume a create under way made or was about
    /// to make.
    pub fn volume_intents(&self) -> Result<Vec<(String, String)>, RecordError> {
        let tx = self.table.begin_read()?;
        let table = tx.open_table(CREATING_VOLUMES).map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        for row in table.iter().map_err(|e| self.error(e))? {
            let (k, _) = row.map_err(|e| self.error(e))?;
            if let Some((id, volume)) = k.value().split_once(' ') {
                out.push((id.to_owned(), volume.to_owned()));
            }
        }
        Ok(out)
    }

    /// Saves the record and the create request it came from; the create is no longer
    /// under way.
    pub fn put(&self, record: &Record, spec: &ContainerSpec) -> Result<(), RecordError> {
        let tx = self.table.begin_write()?;
        self.table.put_in(&tx, &record.id, record)?;
        self.put_spec_in(&tx, &record.id, spec)?;
        tx.open_table(CREATING)
            .map_err(|e| self.error(e))?
            .remove(record.id.as_str())
            .map_err(|e| self.error(e))?;
        forget_volume_intents(&self.table, &tx, &record.id)?;
        Ok(self.table.commit(tx)?)
    }

    /// Changes the record of `id` in one transaction: a change made meanwhile by someone
    /// else is kept, not overwritten with an older copy.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Record)) -> Result<(), RecordError> {
        self.table.update(id, |record| {
            change(record);
            Ok::<(), RecordError>(())
        })
    }

    pub fn remove(&self, id: &str) -> Result<(), RecordError> {
        let tx = self.table.begin_write()?;
        self.table.remove_in(&tx, id)?;
        tx.open_table(SPECS)
            .map_err(|e| self.error(e))?
            .remove(id)
            .map_err(|e| self.error(e))?;
        Ok(self.table.commit(tx)?)
    }

    pub fn all(&self) -> Result<Vec<Record>, RecordError> {
        Ok(self.table.all()?)
    }

    pub fn spec(&self, id: &str) -> Result<Option<ContainerSpec>, RecordError> {
        let tx = self.table.begin_read()?;
        let table = tx.open_table(SPECS).map_err(|e| self.error(e))?;
        let Some(v) = table.get(id).map_err(|e| self.error(e))? else {
            return Ok(None);
        };
        serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|source| RecordError::Spec {
                id: id.to_owned(),
                source,
            })
    }

    fn put_spec_in(
        &self,
        tx: &redb::WriteTransaction,
        id: &str,
        spec: &ContainerSpec,
    ) -> Result<(), RecordError> {
        let json = serde_json::to_vec(spec).map_err(|source| RecordError::Spec {
            id: id.to_owned(),
            source,
        })?;
        tx.open_table(SPECS)
            .map_err(|e| self.error(e))?
            .insert(id, json.as_slice())
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The specs an older runner wrote in its own encoding: (container ID, bytes).
    pub fn legacy_specs(&self) -> Result<Vec<(String, Vec<u8>)>, RecordError> {
        let tx = self.table.begin_read()?;
        let table = tx.open_table(LEGACY_SPECS).map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        for row in table.iter().map_err(|e| self.error(e))? {
            let (k, v) = row.map_err(|e| self.error(e))?;
            out.push((k.value().to_owned(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Replaces `id`'s legacy spec with `spec`, in one transaction.
    pub fn migrate_spec(&self, id: &str, spec: &ContainerSpec) -> Result<(), RecordError> {
        let tx = self.table.begin_write()?;
        self.put_spec_in(&tx, id, spec)?;
        tx.open_table(LEGACY_SPECS)
            .map_err(|e| self.error(e))?
            .remove(id)
            .map_err(|e| self.error(e))?;
        Ok(self.table.commit(tx)?)
    }

    /// Finds a container by full ID, unique ID prefix or name, as Docker does.
    pub fn find(&self, text: &str) -> Result<Option<Record>, RecordError> {
        let name = text.strip_prefix('/').unwrap_or(text);
        let all = self.all()?;
        if let Some(r) = all.iter().find(|r| r.id == text || r.name == name) {
            return Ok(Some(r.clone()));
        }
        let mut by_prefix = all.into_iter().filter(|r| r.id.starts_with(text));
        match (by_prefix.next(), by_prefix.next()) {
            (Some(r), None) => Ok(Some(r)),
            (Some(_), Some(_)) => Err(RecordError::Ambiguous(text.to_owned())),
            _ => Ok(None),
        }
    }
}
