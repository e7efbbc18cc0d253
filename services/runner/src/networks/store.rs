//! What the runner remembers about each network, in a redb file of its own: the
//! definition, the bridge's configuration and the address book (IPAM), so a restarted
//! runner hands out no address twice and finds every bridge again.
//!
//! Address allocation happens inside a write transaction on the network's row: two
//! containers joining at once can never get one address.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use berth_network::{BridgeConfig, Ipam, Ipv4Subnet};
use serde::{Deserialize, Serialize};

use crate::table::{JsonTable, TableError};

/// Network ID -> [`NetworkRecord`] as JSON.
const NETWORKS: &str = "networks";

/// Docker's network drivers berth has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Bridge,
    Host,
    Null,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Bridge => "bridge",
            Driver::Host => "host",
            Driver::Null => "null",
        }
    }
}

/// One network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// Unix nanoseconds.
    pub created: i64,
    pub driver: Driver,
    /// `bridge`, `host` and `none`: made by the runner, never removed.
    pub predefined: bool,
    pub internal: bool,
    pub attachable: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// The bridge driver's configuration and addresses; `None` for host and null.
    pub bridge: Option<BridgeConfig>,
    pub ipam: Option<Ipam>,
}

impl NetworkRecord {
    pub fn subnet(&self) -> Option<Ipv4Subnet> {
        self.bridge.as_ref().map(|b| b.subnet)
    }

    /// Whether containers on it know each other by name: user-defined bridges only, as
    /// in Docker (the default bridge needs legacy links for that).
    pub fn resolves_names(&self) -> bool {
        self.driver == Driver::Bridge && !self.predefined
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(
        "network {text} is ambiguous ({matches} matches found based on ID prefix); use the full ID or the name"
    )]
    Ambiguous { text: String, matches: usize },
    #[error("network {0} has no addresses")]
    NoAddresses(String),
}

/// What failed in [`NetworkStore::with_ipam`]: the table, or the caller's change.
enum IpamFailure<E> {
    Table(TableError),
    Change(E),
}

impl<E> From<TableError> for IpamFailure<E> {
    fn from(e: TableError) -> Self {
        IpamFailure::Table(e)
    }
}

/// The network table.
#[derive(Debug)]
pub struct NetworkStore {
    table: JsonTable<NetworkRecord>,
}

impl NetworkStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let table = JsonTable::open(path, NETWORKS, "network metadata", |_| Ok(()))?;
        Ok(NetworkStore { table })
    }

    pub fn put(&self, record: &NetworkRecord) -> Result<(), StoreError> {
        Ok(self.table.put(&record.id, record)?)
    }

    pub fn remove(&self, id: &str) -> Result<(), StoreError> {
        Ok(self.table.remove(id)?)
    }

    /// Every network, oldest first.
    pub fn all(&self) -> Result<Vec<NetworkRecord>, StoreError> {
        let mut out = self.table.all()?;
        out.sort_by_key(|n| n.created);
        Ok(out)
    }

    /// Finds a network as Docker does: full ID, then exact name, then unique ID prefix.
    pub fn find(&self, text: &str) -> Result<Option<NetworkRecord>, StoreError> {
        let all = self.all()?;
        if let Some(n) = all.iter().find(|n| n.id == text) {
            return Ok(Some(n.clone()));
        }
        if let Some(n) = all.iter().find(|n| n.name == text) {
            return Ok(Some(n.clone()));
        }
        let mut by_prefix = all.into_iter().filter(|n| n.id.starts_with(text));
        match (by_prefix.next(), by_prefix.next()) {
            (Some(n), None) if !text.is_empty() => Ok(Some(n)),
            (Some(_), Some(_)) => Err(StoreError::Ambiguous {
                text: text.to_owned(),
                matches: 2 + by_prefix.count(),
            }),
            _ => Ok(None),
        }
    }

    /// Runs `change` on the network's address book in one transaction and saves the
    /// result only when it succeeds.
    pub fn with_ipam<T, E: From<StoreError>>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Ipam) -> Result<T, E>,
    ) -> Result<T, E> {
        let outcome = self.table.update(id, |record| {
            let Some(ipam) = record.ipam.as_mut() else {
                return Err(IpamFailure::Change(
                    StoreError::NoAddresses(record.name.clone()).into(),
                ));
            };
            change(ipam).map_err(IpamFailure::Change)
        });
        outcome.map_err(|failure| match failure {
            IpamFailure::Table(e) => StoreError::Table(e).into(),
            IpamFailure::Change(e) => e,
        })
    }

    /// Gives `ip` back to the network's address book; a network that is gone has
    /// nothing to give back to.
    pub fn release(&self, id: &str, ip: Ipv4Addr) {
        let released = self.with_ipam(id, |ipam| Ok::<_, StoreError>(ipam.release(ip)));
        if let Err(e) = released {
            tracing::debug!(network = id, %ip, error = %e, "address not released");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str) -> NetworkRecord {
        let subnet: Ipv4Subnet = "10.77.0.0/24".parse().unwrap();
        NetworkRecord {
            id: id.into(),
            name: name.into(),
            created: 1,
            driver: Driver::Bridge,
            predefined: false,
            internal: false,
            attachable: false,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            bridge: Some(BridgeConfig::new("br-test", subnet)),
            ipam: Some(Ipam::new(subnet, None).unwrap()),
        }
    }

    #[test]
    fn finds_by_id_name_and_prefix_and_allocates_in_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let store = NetworkStore::open(&dir.path().join("n.redb")).unwrap();
        store.put(&record("abc123", "front")).unwrap();
        store.put(&record("abd456", "back")).unwrap();
        assert_eq!(store.find("front").unwrap().unwrap().id, "abc123");
        assert_eq!(store.find("abd").unwrap().unwrap().name, "back");
        assert!(store.find("ab").is_err(), "ambiguous prefix");
        assert!(store.find("zzz").unwrap().is_none());

        let ip = store
            .with_ipam("abc123", |ipam| {
                ipam.allocate()
                    .map_err(|_| StoreError::NoAddresses("front".into()))
            })
            .unwrap();
        assert_eq!(ip, Ipv4Addr::new(10, 77, 0, 2));
        // A failed change is not saved.
        let failed: Result<(), StoreError> = store.with_ipam("abc123", |ipam| {
            ipam.allocate().unwrap();
            Err(StoreError::NoAddresses("no".into()))
        });
        assert!(failed.is_err());
        let ipam = store.find("front").unwrap().unwrap().ipam.unwrap();
        assert_eq!(ipam.allocated().collect::<Vec<_>>(), [ip]);
        store.release("abc123", ip);
        let ipam = store.find("front").unwrap().unwrap().ipam.unwrap();
        assert_eq!(ipam.allocated().count(), 0);
    }
}
