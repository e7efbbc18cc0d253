//! Which containers use which volumes, read from the container records: a volume is in
//! use while any container names it, running or not, as in Docker. Every decision made
//! here holds the `names` lock, which container creation holds too, so a volume cannot
//! be taken between the check and the removal.

use std::collections::BTreeMap;

use super::ContainerError;

use super::Containers;
use super::mounts::MountKind;
use super::record::Record;

impl Containers {
    /// Volume name -> IDs of the containers that use it.
    pub fn volume_users(&self) -> Result<BTreeMap<String, Vec<String>>, ContainerError> {
        let records = self
            .records
            .all()
            .map_err(|e| ContainerError::internal(e.to_string()))?;
        let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in records {
            for m in r.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
                users.entry(m.name.clone()).or_default().push(r.id.clone());
            }
        }
        Ok(users)
    }

    /// Removes a volume no container uses; Docker's 409 "volume is in use" otherwise,
    /// whether forced or not.
    pub async fn remove_volume(&self, name: &str) -> Result<(), ContainerError> {
        let _names = self.names.lock().await;
        self.volumes.get(name)?;
        if let Some(ids) = self.volume_users()?.get(name) {
            return Err(ContainerError::state(format!(
                "remove {name}: volume is in use - [{}]",
                ids.join(", ")
            )));
        }
        Ok(self.volumes.remove(name)?)
    }

    /// `docker rm -v` and `--rm`: the removed container's anonymous volumes go, unless
    /// another container uses them too. Named volumes always stay, as in Docker.
    pub async fn remove_anonymous_volumes(&self, removed: &Record) {
        let _names = self.names.lock().await;
        let Ok(users) = self.volume_users() else {
            return;
        };
        for m in removed
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
        {
            let anonymous = self.volumes.get(&m.name).is_ok_and(|v| v.anonymous());
            if anonymous
                && !users.contains_key(&m.name)
                && let Err(e) = self.volumes.remove(&m.name)
            {
                tracing::warn!(volume = %m.name, error = %e, "removing an anonymous volume failed");
            }
        }
    }
}
