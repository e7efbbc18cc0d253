//! The containers' side of [`Members`]: networks read and change a container's place on
//! them through it, and the containers save their own records.

use std::path::PathBuf;

use crate::networks::{Member, Members, NetworkError};

use super::Containers;
use super::record::{Record, RecordError};

fn member_of(r: Record) -> Member {
    Member {
        id: r.id,
        name: r.name,
        network_mode: r.network_mode,
        networks: r.networks,
        publish: r.publish,
        ports: r.ports,
    }
}

fn record_error(e: RecordError) -> NetworkError {
    match e {
        RecordError::Ambiguous(_) => NetworkError::invalid(e.to_string()),
        other => NetworkError::internal(other.to_string()),
    }
}

impl Members for Containers {
    fn member(&self, text: &str) -> Result<Member, NetworkError> {
        self.records
            .find(text)
            .map_err(record_error)?
            .map(member_of)
            .ok_or_else(|| NetworkError::not_found(format!("No such container: {text}")))
    }

    fn members(&self) -> Result<Vec<Member>, NetworkError> {
        Ok(self
            .records
            .all()
            .map_err(record_error)?
            .into_iter()
            .map(member_of)
            .collect())
    }

    fn save(&self, member: &Member) -> Result<(), NetworkError> {
        self.records
            .update(&member.id, |record| {
                record.networks = member.networks.clone();
                record.ports = member.ports.clone();
            })
            .map_err(record_error)
    }

    fn live_pid(&self, id: &str) -> Option<i32> {
        self.runtime
            .state(id)
            .ok()
            .filter(|s| s.status != berth_runtime::Status::Exited)
            .and_then(|s| s.pid)
    }

    fn hostname(&self, id: &str) -> String {
        self.records
            .spec(id)
            .ok()
            .flatten()
            .map(|s| s.hostname)
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| id[..12.min(id.len())].to_owned())
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.fs(id).dir
    }
}
