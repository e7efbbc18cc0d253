//! What a runner that crashed mid-create left behind: processes, an overlay mount,
//! cgroups, directories and volumes of a container that never got its record. Creates
//! note each volume they make before making it and write an intent before the runtime
//! makes anything, and the record replaces both once the create is done; at start,
//! before anything is served or re-adopted, whatever has an intent or a state directory
//! but no record is removed, with the volumes it made that no recorded container uses
//! (as a failed create's own cleanup would have removed them).
//!
//! It must never touch a container that has a record: those are re-adopted.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use super::{ContainerError, Containers, blocking};

impl Containers {
    /// Removes every container with no record (see the module docs).
    pub async fn sweep_unrecorded(self: &Arc<Self>) {
        let this = self.clone();
        let swept = blocking(move || {
            let recorded: HashSet<String> = this
                .records
                .all()
                .map_err(|e| ContainerError::internal(e.to_string()))?
                .into_iter()
                .map(|r| r.id)
                .collect();
            let volume_intents = this.records.volume_intents().unwrap_or_default();
            let mut unrecorded: BTreeSet<String> = this.records.intents().unwrap_or_default().into_iter().collect();
            unrecorded.extend(this.runtime.list().unwrap_or_default());
            if let Ok(dirs) = std::fs::read_dir(&this.root) {
                unrecorded.extend(dirs.flatten().filter_map(|e| e.file_name().into_string().ok()));
            }
            let mut swept = 0;
            for id in unrecorded {
                let is_id = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
                if !is_id || recorded.contains(&id) {
                    continue;
                }
                tracing::warn!(container = %id, "removing what an unfinished create left");
                if let Err(e) = this.runtime.destroy_unfinished(&id) {
                    tracing::warn!(container = %id, error = %e, "removing an unfinished container's runtime state");
                }
                if let Err(e) = this.runtime.remove_root(&this.fs(&id)) {
                    tracing::warn!(container = %id, error = %e, "removing an unfinished container's root");
                }
                let _ = this.records.abandon(&id);
                swept += 1;
            }
            let users = this.volume_users()?;
            for (id, volume) in volume_intents {
                if recorded.contains(&id) || users.contains_key(&volume) {
                    continue;
                }
                match this.volumes.remove(&volume) {
                    Ok(()) => tracing::warn!(container = %id, %volume, "removed a volume an unfinished create made"),
                    Err(crate::volumes::VolumeError::NotFound(_)) => {}
                    Err(e) => tracing::warn!(container = %id, %volume, error = %e, "removing a volume an unfinished create made"),
                }
            }
            Ok(swept)
        })
        .await;
        match swept {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "unfinished creates cleaned up"),
            Err(e) => tracing::warn!(error = %e, "sweeping unfinished creates failed"),
        }
    }
}
