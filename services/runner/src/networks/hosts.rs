//! The files Docker gives every container on a network (`/etc/hostname`,
//! `/etc/resolv.conf`, `/etc/hosts`), and keeping `/etc/hosts` current.
//!
//! berth has no embedded DNS server: on user-defined networks a container's /etc/hosts
//! lists every peer it shares a network with, by container name, network aliases and
//! short ID, and is rewritten in place (the inode the container sees) whenever a peer
//! joins or leaves. The file is always rendered from the records, never patched, so a
//! rewrite after a crash puts it right.

use std::net::IpAddr;
use std::path::Path;

use berth_network::{HostsFile, write_container_file};
use tonic::Status;

use super::{NetworkRecord, Networks, internal};
use crate::containers::Containers;
use crate::containers::record::Record;

/// Writes /etc/hostname and /etc/resolv.conf into a container's root before it starts;
/// /etc/hosts follows from [`refresh_one`].
pub(super) fn write_etc_files(rootfs: &Path, hostname: &str) -> Result<(), Status> {
    let etc = rootfs.join("etc");
    std::fs::create_dir_all(&etc).map_err(internal)?;
    write_container_file(&etc.join("hostname"), &format!("{hostname}\n")).map_err(internal)?;
    let host_resolv = berth_network::read_host_resolv_conf().unwrap_or_default();
    let resolv = berth_network::container_resolv_conf(&host_resolv, &Default::default())
        .map_err(internal)?;
    write_container_file(&etc.join("resolv.conf"), &resolv).map_err(internal)
}

/// The hostname a container was given: its own, or its short ID as Docker does.
fn hostname_of(c: &Containers, record: &Record) -> String {
    c.records
        .spec(&record.id)
        .ok()
        .flatten()
        .map(|s| s.hostname)
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| record.id[..12].to_owned())
}

/// A container's /etc/hosts: its own address with its hostname, name and aliases, then
/// the peers on the user-defined networks it is attached to.
fn render(
    record: &Record,
    hostname: &str,
    all: &[Record],
    networks: &[NetworkRecord],
) -> Option<String> {
    let named = |id: &str| networks.iter().any(|n| n.id == id && n.resolves_names());
    let own = record.networks.iter().find_map(|m| m.endpoint.as_ref())?;
    let mut own_names = vec![hostname.to_owned()];
    for m in record
        .networks
        .iter()
        .filter(|m| m.endpoint.is_some() && named(&m.network_id))
    {
        own_names.push(record.name.clone());
        own_names.extend(m.aliases.iter().cloned());
    }
    own_names.dedup();
    let mut seen = std::collections::HashSet::new();
    own_names.retain(|n| seen.insert(n.clone()));
    let mut hosts = HostsFile::new();
    let names: Vec<&str> = own_names.iter().map(String::as_str).collect();
    if let Err(e) = hosts.set_own(IpAddr::V4(own.ip), &names) {
        tracing::warn!(container = %record.id, error = %e, "a name cannot go into /etc/hosts");
    }
    let mine: Vec<&str> = record
        .networks
        .iter()
        .filter(|m| m.endpoint.is_some() && named(&m.network_id))
        .map(|m| m.network_id.as_str())
        .collect();
    for peer in all.iter().filter(|p| p.id != record.id) {
        for m in peer
            .networks
            .iter()
            .filter(|m| mine.contains(&m.network_id.as_str()))
        {
            let Some(endpoint) = &m.endpoint else {
                continue;
            };
            let mut aliases: Vec<&str> = m.aliases.iter().map(String::as_str).collect();
            aliases.push(&peer.id[..12]);
            if let Err(e) = hosts.set_peer(&peer.name, IpAddr::V4(endpoint.ip), &aliases) {
                tracing::warn!(container = %peer.id, error = %e, "a peer cannot go into /etc/hosts");
            }
        }
    }
    Some(hosts.render())
}

fn write_hosts(c: &Containers, record: &Record, all: &[Record], networks: &[NetworkRecord]) {
    let Some(text) = render(record, &hostname_of(c, record), all, networks) else {
        return;
    };
    let path = c.fs(&record.id).rootfs().join("etc/hosts");
    if let Err(e) = write_container_file(&path, &text) {
        tracing::warn!(container = %record.id, error = %e, "updating /etc/hosts failed");
    }
}

impl Networks {
    /// After `docker rename`: the peers of container `id` learn its new name.
    pub async fn renamed(&self, c: &Containers, id: &str) {
        let _changes = self.changes.lock().await;
        let Ok(record) = c.find(id) else {
            return;
        };
        let joined: Vec<NetworkRecord> = record
            .networks
            .iter()
            .filter(|m| m.endpoint.is_some())
            .filter_map(|m| self.find(&m.network_id).ok())
            .collect();
        self.refresh_hosts(c, &joined).await;
    }

    /// Rewrites the /etc/hosts of every attached container on `changed`.
    pub(super) async fn refresh_hosts(&self, c: &Containers, changed: &[NetworkRecord]) {
        let (Ok(all), Ok(networks)) = (c.records.all(), self.store.all()) else {
            return;
        };
        for record in &all {
            let affected = record
                .networks
                .iter()
                .any(|m| m.endpoint.is_some() && changed.iter().any(|n| n.id == m.network_id));
            if affected {
                write_hosts(c, record, &all, &networks);
            }
        }
    }
}

/// Rewrites one container's /etc/hosts (after it left a network).
pub(super) async fn refresh_one(networks: &Networks, c: &Containers, record: &Record) {
    if let (Ok(all), Ok(nets)) = (c.records.all(), networks.store.all()) {
        write_hosts(c, record, &all, &nets);
    }
}
