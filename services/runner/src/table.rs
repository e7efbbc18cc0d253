//! One redb table of JSON rows keyed by a string: how the runner keeps its containers,
//! networks and volumes. A row is written whole in one transaction; [`JsonTable::update`]
//! reads, changes and writes a row in one transaction, so two changes never interleave.

use std::marker::PhantomData;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why the table could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{what}: the database: {source}")]
    Database {
        what: &'static str,
        #[source]
        source: redb::Error,
    },
    #[error("{what}: row {key:?} is not what berth wrote: {source}")]
    Decode {
        what: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what}: encoding row {key:?}: {source}")]
    Encode {
        what: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what}: no row {key:?}")]
    Missing { what: &'static str, key: String },
}

/// Rows of `T` as JSON in the table `name` of a redb file.
#[derive(Debug)]
pub struct JsonTable<T> {
    db: Database,
    name: &'static str,
    /// What the rows are, for error messages ("container metadata").
    what: &'static str,
    rows: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> JsonTable<T> {
    /// Opens (or creates) the file and the table, and any `extra` tables of other
    /// shapes that share its transactions.
    pub fn open(
        path: &Path,
        name: &'static str,
        what: &'static str,
        extra: impl FnOnce(&WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<Self, TableError> {
        let table = JsonTable {
            db: Database::create(path).map_err(db_err(what))?,
            name,
            what,
            rows: PhantomData,
        };
        let tx = table.begin_write()?;
        tx.open_table(table.definition()).map_err(db_err(what))?;
        extra(&tx).map_err(db_err(what))?;
        table.commit(tx)?;
        Ok(table)
    }

    /// A write transaction, for changes to this table and its `extra` tables together.
    pub fn begin_write(&self) -> Result<WriteTransaction, TableError> {
        self.db.begin_write().map_err(db_err(self.what))
    }

    /// A read transaction, for this table's `extra` tables.
    pub fn begin_read(&self) -> Result<redb::ReadTransaction, TableError> {
        self.db.begin_read().map_err(db_err(self.what))
    }

    pub fn commit(&self, tx: WriteTransaction) -> Result<(), TableError> {
        tx.commit().map_err(db_err(self.what))
    }

    /// Maps a redb error of this table's file.
    pub fn error(&self, source: impl Into<redb::Error>) -> TableError {
        TableError::Database {
            what: self.what,
            source: source.into(),
        }
    }

    /// Writes `row` under `key` within `tx`.
    pub fn put_in(&self, tx: &WriteTransaction, key: &str, row: &T) -> Result<(), TableError> {
        let json = serde_json::to_vec(row).map_err(|source| TableError::Encode {
            what: self.what,
            key: key.to_owned(),
            source,
        })?;
        tx.open_table(self.definition())
            .map_err(|e| self.error(e))?
            .insert(key, json.as_slice())
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Deletes the row `key` within `tx`, if there is one.
    pub fn remove_in(&self, tx: &WriteTransaction, key: &str) -> Result<(), TableError> {
        tx.open_table(self.definition())
            .map_err(|e| self.error(e))?
            .remove(key)
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    pub fn put(&self, key: &str, row: &T) -> Result<(), TableError> {
        let tx = self.begin_write()?;
        self.put_in(&tx, key, row)?;
        self.commit(tx)
    }

    pub fn remove(&self, key: &str) -> Result<(), TableError> {
        let tx = self.begin_write()?;
        self.remove_in(&tx, key)?;
        self.commit(tx)
    }

    pub fn get(&self, key: &str) -> Result<Option<T>, TableError> {
        let tx = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = tx
            .open_table(self.definition())
            .map_err(|e| self.error(e))?;
        match table.get(key).map_err(|e| self.error(e))? {
            Some(v) => self.decode(key, v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Every row, in key order.
    pub fn all(&self) -> Result<Vec<T>, TableError> {
        let tx = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = tx
            .open_table(self.definition())
            .map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        for row in table.iter().map_err(|e| self.error(e))? {
            let (k, v) = row.map_err(|e| self.error(e))?;
            out.push(self.decode(k.value(), v.value())?);
        }
        Ok(out)
    }

    /// Runs `change` on the row `key` in one write transaction and saves the row only
    /// when `change` succeeds.
    pub fn update<R, E: From<TableError>>(
        &self,
        key: &str,
        change: impl FnOnce(&mut T) -> Result<R, E>,
    ) -> Result<R, E> {
        let tx = self.begin_write()?;
        let mut row = {
            let table = tx
                .open_table(self.definition())
                .map_err(|e| self.error(e))?;
            let value = table.get(key).map_err(|e| self.error(e))?;
            let Some(value) = value else {
                return Err(TableError::Missing {
                    what: self.what,
                    key: key.to_owned(),
                }
                .into());
            };
            self.decode(key, value.value())?
        };
        let outcome = change(&mut row)?;
        self.put_in(&tx, key, &row)?;
        self.commit(tx)?;
        Ok(outcome)
    }

    fn definition(&self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name)
    }

    fn decode(&self, key: &str, bytes: &[u8]) -> Result<T, TableError> {
        serde_json::from_slice(bytes).map_err(|source| TableError::Decode {
            what: self.what,
            key: key.to_owned(),
            source,
        })
    }
}

fn db_err<E: Into<redb::Error>>(what: &'static str) -> impl FnOnce(E) -> TableError {
    move |source| TableError::Database {
        what,
        source: source.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_a_failed_update_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let table: JsonTable<Vec<u32>> =
            JsonTable::open(&dir.path().join("t.redb"), "t", "test rows", |_| Ok(())).unwrap();
        table.put("b", &vec![2]).unwrap();
        table.put("a", &vec![1]).unwrap();
        assert_eq!(table.all().unwrap(), [vec![1], vec![2]]);
        assert_eq!(table.get("a").unwrap(), Some(vec![1]));

        let failed: Result<(), TableError> = table.update("a", |row| {
            row.push(9);
            Err(TableError::Missing {
                what: "test rows",
                key: "x".into(),
            })
        });
        assert!(failed.is_err());
        assert_eq!(table.get("a").unwrap(), Some(vec![1]));
        table
            .update("a", |row| {
                row.push(3);
                Ok::<_, TableError>(())
            })
            .unwrap();
        assert_eq!(table.get("a").unwrap(), Some(vec![1, 3]));
        assert!(matches!(
            table.update("zz", |_| Ok::<_, TableError>(())),
            Err(TableError::Missing { .. })
        ));

        table.remove("a").unwrap();
        assert_eq!(table.get("a").unwrap(), None);
    }

    #[test]
    fn a_row_berth_did_not_write_is_a_decode_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.redb");
        let text: JsonTable<String> = JsonTable::open(&path, "t", "test rows", |_| Ok(())).unwrap();
        text.put("k", &"not a number".to_owned()).unwrap();
        drop(text);
        let numbers: JsonTable<u64> = JsonTable::open(&path, "t", "test rows", |_| Ok(())).unwrap();
        let err = numbers.get("k").unwrap_err();
        assert!(matches!(err, TableError::Decode { .. }), "{err}");
        assert!(err.to_string().contains("\"k\""), "{err}");
    }
}
