//! The volumes of this host, Docker's `local` driver: each volume is a directory,
//! `<data root>/volumes/<name>/_data` as in Docker's layout, described by a row in
//! `volumes.redb`.
//!
//! This module knows nothing of containers: whether a volume is in use is decided by the
//! caller from the container records, under the lock that also guards container creation.
//! It must never remove a directory outside `volumes/`, so every name is checked against
//! Docker's name rule before it becomes a path.

mod copy_up;
pub mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use copy_up::copy_up;
pub use store::VolumeRecord;
use store::VolumeStore;

/// The label Docker puts on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// Docker's volume errors, with Docker's wording where clients match on it.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error(
        "create {0}: \"{0}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    )]
    InvalidName(String),
    #[error("get {0}: no such volume")]
    NotFound(String),
    #[error(
        "volume driver {0:?} is not available: berth has only the \"local\" driver; drop --driver"
    )]
    Driver(String),
    #[error(
        "the local volume driver of berth takes no options (got {0}): drop --opt, or use a bind mount for a device or a remote share"
    )]
    Options(String),
    #[error("volume {name}: {action}: {source}")]
    Io {
        name: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::table::TableError),
}

/// What `docker volume create` (or a mount that names a missing volume) asks for.
#[derive(Debug, Clone, Default)]
pub struct NewVolume {
    /// `None` makes an anonymous volume with a generated name.
    pub name: Option<String>,
    pub driver: String,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// The volumes under one data root.
#[derive(Debug)]
pub struct Volumes {
    root: PathBuf,
    store: VolumeStore,
    /// Makes "exists? else create" and remove one step each, against each other.
    lock: std::sync::Mutex<()>,
}

impl Volumes {
    /// Opens `<data_root>/volumes/` and `<data_root>/volumes.redb`, finishing removals a
    /// crash interrupted.
    pub fn open(data_root: &Path) -> Result<Self, VolumeError> {
        let root = data_root.join("volumes");
        let io = |action| {
            move |source| VolumeError::Io {
                name: String::new(),
                action,
                source,
            }
        };
        std::fs::create_dir_all(&root).map_err(io("creating the volumes directory"))?;
        // Trash names start with a dot, which no volume name can.
        for entry in std::fs::read_dir(&root).map_err(io("listing the volumes"))? {
            let entry = entry.map_err(io("listing the volumes"))?;
            if entry.file_name().to_string_lossy().starts_with(".trash-") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let store = VolumeStore::open(&data_root.join("volumes.redb"))?;
        Ok(Volumes {
            root,
            store,
            lock: Default::default(),
        })
    }

    /// Where the volume's content lives (its `Mountpoint`).
    pub fn data_path(&self, name: &str) -> PathBuf {
        self.root.join(name).join("_data")
    }

    pub fn get(&self, name: &str) -> Result<VolumeRecord, VolumeError> {
        self.store
            .get(name)?
            .ok_or_else(|| VolumeError::NotFound(name.to_owned()))
    }

    pub fn list(&self) -> Result<Vec<VolumeRecord>, VolumeError> {
        self.store.all()
    }

    /// Creates the volume, or returns the one of that name as Docker does; the flag says
    /// whether it is new.
    pub fn create(&self, new: NewVolume) -> Result<(VolumeRecord, bool), VolumeError> {
        if !matches!(new.driver.as_str(), "" | "local") {
            return Err(VolumeError::Driver(new.driver));
        }
        if !new.options.is_empty() {
            let keys: Vec<&str> = new.options.keys().map(String::as_str).collect();
            return Err(VolumeError::Options(keys.join(", ")));
        }
        let name = match new.name {
            Some(name) if crate::naming::valid_name(&name) => name,
            Some(name) => return Err(VolumeError::InvalidName(name)),
            None => crate::random_id(),
        };
        let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = self.store.get(&name)? {
            return Ok((existing, false));
        }
        let io = |action| {
            let name = name.clone();
            move |source| VolumeError::Io {
                name,
                action,
                source,
            }
        };
        let dir = self.root.join(&name);
        // A directory without a row is what a crash between the two steps leaves: it was
        // never a volume, so whatever it holds goes.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io("clearing a leftover directory"))?;
        }
        std::fs::create_dir_all(dir.join("_data")).map_err(io("creating its directory"))?;
        let record = VolumeRecord {
            name: name.clone(),
            driver: "local".to_owned(),
            created: crate::now_nanos(),
            labels: new.labels,
            options: BTreeMap::new(),
        };
        if let Err(e) = self.store.put(&record) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok((record, true))
    }

    /// Removes the volume and its content. The caller has made sure no container uses it.
    pub fn remove(&self, name: &str) -> Result<(), VolumeError> {
        let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.get(name)?;
        let io = |action| {
            move |source| VolumeError::Io {
                name: name.to_owned(),
                action,
                source,
            }
        };
        // Renamed away first, so a crash never leaves a row whose data is half deleted.
        let dir = self.root.join(name);
        let trash = self
            .root
            .join(format!(".trash-{}", uuid::Uuid::new_v4().simple()));
        std::fs::rename(&dir, &trash).map_err(io("moving it aside"))?;
        if let Err(e) = self.store.remove(name) {
            let _ = std::fs::rename(&trash, &dir);
            return Err(e);
        }
        if let Err(e) = std::fs::remove_dir_all(&trash) {
            tracing::warn!(volume = name, error = %e, "removing a volume's content failed");
        }
        Ok(())
    }

    /// Bytes the volume's files take, for prune's report; unreadable parts count as 0.
    pub fn size(&self, name: &str) -> u64 {
        berth_snapshots::tree_bytes(&self.data_path(name))
    }
}

impl crate::error::Classified for VolumeError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            VolumeError::InvalidName(_) | VolumeError::Driver(_) | VolumeError::Options(_) => {
                ErrorKind::Invalid
            }
            VolumeError::NotFound(_) => ErrorKind::NotFound,
            VolumeError::Io { .. } | VolumeError::Store(_) => ErrorKind::Internal,
        }
    }
}

#[cfg(test)]
mod tests;
