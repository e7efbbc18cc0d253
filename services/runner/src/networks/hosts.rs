//! The files Docker gives every container (`/etc/hostname`, `/etc/resolv.conf`,
//! `/etc/hosts`), and keeping `/etc/hosts` current.
//!
//! As in Docker, the files live in the container's state directory (`containers/<id>/`,
//! beside its log) and the runtime bind-mounts them over the container's own: the host
//! never writes inside a container's root, where the image or the container itself may
//! have made `/etc/hosts` a symlink to a host file. They are written before the runtime
//! creates the container, so the mounts have a source.
//!
//! berth has no embedded DNS server: on user-defined networks a container's /etc/hosts
//! lists every peer it shares a network with, by container name, network aliases and
//! short ID, and is rewritten in place (the inode the bind mount pins) whenever a peer
//! joins or leaves. Only the peers on networks that resolve names are rewritten: on the
//! default bridge a container's file names nobody but itself. The file is always rendered
//! from the records, never patched, so a rewrite after a crash puts it right.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::NetworkError;
use berth_network::{HostsFile, write_container_file};
use berth_runtime::{EngineFile, NetworkMode};

use super::members::{Member, Members};
use super::{NetworkRecord, Networks, internal};

/// The engine's files: their names in the state directory (Docker's) and in the container.
const ETC_FILES: [(&str, &str); 3] = [
    ("hostname", "/etc/hostname"),
    ("hosts", "/etc/hosts"),
    ("resolv.conf", "/etc/resolv.conf"),
];

/// The host's own files a `--network host` container gets copies of, as in Docker.
const HOST_HOSTS: &str = "/etc/hosts";

/// Where a container's /etc/hosts lives on the host, in its state directory `dir`.
fn hosts_path(dir: &Path) -> PathBuf {
    dir.join("hosts")
}

/// Writes a container's /etc/hostname, /etc/hosts and /etc/resolv.conf into its state
/// directory `dir` before the runtime creates it (again, on a restart), and returns the
/// mounts that carry them into the container. /etc/hosts starts with Docker's localhost
/// lines; a container on a bridge gets its own address and its peers when it is plugged
/// in, before it starts. A `--network host` container gets the host's /etc/hosts and
/// resolv.conf, as in Docker.
pub(crate) fn prepare_etc_files(
    dir: &Path,
    hostname: &str,
    network: &NetworkMode,
) -> Result<Vec<EngineFile>, NetworkError> {
    let host_resolv = berth_network::read_host_resolv_conf().unwrap_or_default();
    let (hosts, resolv) = if *network == NetworkMode::Host {
        let hosts = std::fs::read_to_string(HOST_HOSTS).unwrap_or_default();
        (hosts, host_resolv)
    } else {
        let resolv = berth_network::container_resolv_conf(&host_resolv, &Default::default())
            .map_err(internal)?;
        (HostsFile::new().render(), resolv)
    };
    let contents = [format!("{hostname}\n"), hosts, resolv];
    let mut files = Vec::new();
    for ((name, destination), text) in ETC_FILES.iter().zip(contents) {
        let source = dir.join(name);
        write_container_file(&source, &text).map_err(internal)?;
        files.push(EngineFile {
            source,
            destination: (*destination).to_owned(),
        });
    }
    Ok(files)
}

/// A container's /etc/hosts: its own address with its hostname, name and aliases, then
/// the peers on the user-defined networks it is attached to.
fn render(
    record: &Member,
    hostname: &str,
    all: &[Member],
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

fn write_hosts(c: &dyn Members, record: &Member, all: &[Member], networks: &[NetworkRecord]) {
    let Some(text) = render(record, &c.hostname(&record.id), all, networks) else {
        return;
    };
    let path = hosts_path(&c.dir(&record.id));
    if let Err(e) = write_container_file(&path, &text) {
        tracing::warn!(container = %record.id, error = %e, "updating /etc/hosts failed");
    }
}

impl Networks {
    /// After `docker rename`: the peers of container `id` learn its new name.
    pub async fn renamed(&self, c: &dyn Members, id: &str) {
        let _changes = self.changes.lock().await;
        let Ok(record) = c.member(id) else {
            return;
        };
        let joined: Vec<NetworkRecord> = record
            .networks
            .iter()
            .filter(|m| m.endpoint.is_some())
            .filter_map(|m| self.find(&m.network_id).ok())
            .collect();
        self.refresh_hosts(c, &joined, None).await;
    }

    /// Rewrites the /etc/hosts of the containers attached to the networks of `changed`
    /// that resolve names, but `except`'s. The default bridge resolves no names: a
    /// container's file there lists only itself, so a peer coming or going changes no
    /// one else's.
    pub(super) async fn refresh_hosts(
        &self,
        c: &dyn Members,
        changed: &[NetworkRecord],
        except: Option<&str>,
    ) {
        let naming: Vec<&NetworkRecord> = changed.iter().filter(|n| n.resolves_names()).collect();
        if naming.is_empty() {
            return;
        }
        let (Ok(all), Ok(networks)) = (c.members(), self.store.all()) else {
            return;
        };
        for record in all.iter().filter(|r| Some(r.id.as_str()) != except) {
            let affected = record
                .networks
                .iter()
                .any(|m| m.endpoint.is_some() && naming.iter().any(|n| n.id == m.network_id));
            if affected {
                write_hosts(c, record, &all, &networks);
            }
        }
    }
}

/// Rewrites one container's /etc/hosts (it joined or left a network).
pub(super) async fn refresh_one(networks: &Networks, c: &dyn Members, record: &Member) {
    if let (Ok(all), Ok(nets)) = (c.members(), networks.store.all()) {
        write_hosts(c, record, &all, &nets);
    }
}
