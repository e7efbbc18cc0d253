//! A container's mounts as Docker resolves them at create time: `-v` binds and named
//! volumes (`HostConfig.Binds`), `--mount` (`HostConfig.Mounts`), and the anonymous
//! volumes of `-v /path` and of the image's `VOLUME`s. Planning is pure and refuses what
//! berth cannot do; resolving ties the plan to the host (volumes created, bind sources
//! checked) and yields what the runtime mounts and what inspect shows.
//!
//! It never mounts anything itself: the runtime does, from plain bind and tmpfs entries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use super::ContainerError;
use super::spec::{HostConfig, Mount};
use serde::{Deserialize, Serialize};

use super::Containers;
use crate::volumes::{ANONYMOUS_LABEL, NewVolume};

/// What a mount is, as Docker's `MountPoint.Type` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

/// One mount of a container as inspect shows it (Docker's `MountPoint`); kept in the
/// container's record, which is also how a volume's users are found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRecord {
    pub kind: MountKind,
    /// The volume's name; empty for binds and tmpfs.
    pub name: String,
    pub source: String,
    pub destination: String,
    pub mode: String,
    pub rw: bool,
    pub propagation: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Wanted {
    Bind {
        source: String,
        /// `--mount` wants an existing source; `-v` makes a missing one, as Docker does.
        must_exist: bool,
        propagation: String,
    },
    Volume {
        /// `None`: anonymous.
        name: Option<String>,
        copy: bool,
        labels: BTreeMap<String, String>,
    },
    Tmpfs {
        options: String,
    },
}

/// One mount the container asked for, not yet tied to the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    destination: String,
    readonly: bool,
    /// Docker's `Mode` string for inspect.
    mode: String,
    wanted: Wanted,
}

/// The mounts of one container, tied to the host.
#[derive(Debug, Default)]
pub struct Resolved {
    /// `source:destination:options` for the runtime, parents before children.
    pub binds: Vec<String>,
    /// Destination -> tmpfs options, for the runtime.
    pub tmpfs: Vec<(String, String)>,
    pub records: Vec<MountRecord>,
    /// Volumes to fill from the image: (destination, the volume's directory).
    pub copy_up: Vec<(String, PathBuf)>,
    /// Volumes this container made, to remove again if it is never created.
    pub created: Vec<String>,
}

fn invalid(kind: &str, why: impl std::fmt::Display) -> ContainerError {
    ContainerError::invalid(format!("invalid mount config for type \"{kind}\": {why}"))
}

/// Docker's cleaning of a container path: absolute, `.` and `..` folded, not `/` itself.
fn destination(kind: &str, path: &str) -> Result<String, ContainerError> {
    if !path.starts_with('/') {
        return Err(invalid(
            kind,
            format!("invalid mount path: '{path}' mount path must be absolute"),
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().unwrap_or_default()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    if parts.is_empty() {
        return Err(invalid(
            kind,
            "invalid specification: destination can't be '/'",
        ));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Plans every mount of a container. `volumes` are the request's `Config.Volumes` (what
/// `-v /path` sends), `image_volumes` the image's; both yield anonymous volumes unless
/// the user mounts something else there.
pub fn plan(
    host: &HostConfig,
    volumes: &[String],
    image_volumes: &[String],
) -> Result<Vec<Planned>, ContainerError> {
    let mut out = Vec::new();
    for spec in &host.binds {
        out.push(from_bind(spec)?);
    }
    for m in &host.mounts {
        out.push(from_mount(m)?);
    }
    let mut taken = BTreeSet::new();
    let tmpfs_dests = host
        .tmpfs
        .keys()
        .map(|d| destination("tmpfs", d))
        .collect::<Result<Vec<_>, _>>()?;
    for dest in out.iter().map(|p| &p.destination).chain(&tmpfs_dests) {
        if !taken.insert(dest.clone()) {
            return Err(ContainerError::invalid(format!(
                "Duplicate mount point: {dest}"
            )));
        }
    }
    for path in volumes.iter().chain(image_volumes) {
        let dest = destination("volume", path)?;
        if taken.insert(dest.clone()) {
            out.push(Planned {
                destination: dest,
                readonly: false,
                mode: String::new(),
                wanted: Wanted::Volume {
                    name: None,
                    copy: true,
                    labels: BTreeMap::new(),
                },
            });
        }
    }
    Ok(out)
}

/// One `-v` entry: `/host:/dest[:opts]`, `name:/dest[:opts]`, or `/dest` alone.
fn from_bind(spec: &str) -> Result<Planned, ContainerError> {
    let bad = |why: &str| {
        ContainerError::invalid(format!("invalid volume specification: '{spec}': {why}"))
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, dest, opts) = match parts.as_slice() {
        [dest] => ("", *dest, ""),
        [source, dest] => (*source, *dest, ""),
        [source, dest, opts] => (*source, *dest, *opts),
        _ => return Err(bad("too many colons")),
    };
    let is_bind = source.starts_with('/');
    let kind = if is_bind { "bind" } else { "volume" };
    let mut readonly = false;
    let mut copy = true;
    let mut propagation = "rprivate".to_owned();
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => readonly = true,
            "rw" => readonly = false,
            // SELinux relabelling: no SELinux here, so nothing to do, as Docker without it.
            "z" | "Z" => {}
            "nocopy" if !is_bind => copy = false,
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" if is_bind => {
                propagation = opt.to_owned()
            }
            _ => return Err(bad(&format!("invalid mode: {opt}"))),
        }
    }
    let destination = destination(kind, dest)?;
    let wanted = if is_bind {
        Wanted::Bind {
            source: source.to_owned(),
            must_exist: false,
            propagation,
        }
    } else if source.is_empty() {
        Wanted::Volume {
            name: None,
            copy,
            labels: BTreeMap::new(),
        }
    } else {
        Wanted::Volume {
            name: Some(source.to_owned()),
            copy,
            labels: BTreeMap::new(),
        }
    };
    let mode = if opts.is_empty() && !is_bind {
        "z".to_owned()
    } else {
        opts.to_owned()
    };
    Ok(Planned {
        destination,
        readonly,
        mode,
        wanted,
    })
}

/// One `--mount`. The gateway has refused what the proto cannot carry; what is left to
/// refuse here is what each type must not have.
fn from_mount(m: &Mount) -> Result<Planned, ContainerError> {
    let Some(kind) = m.kind else {
        return Err(ContainerError::invalid(
            "invalid mount config: the mount type is missing: use bind, volume or tmpfs",
        ));
    };
    let name = match kind {
        MountKind::Bind => "bind",
        MountKind::Volume => "volume",
        MountKind::Tmpfs => "tmpfs",
    };
    let destination = destination(name, &m.target)?;
    let volume_opts =
        m.no_copy || !m.volume_labels.is_empty() || !m.volume_driver_options.is_empty();
    let tmpfs_opts = m.tmpfs_size_bytes != 0 || m.tmpfs_mode != 0;
    if kind != MountKind::Volume && volume_opts {
        return Err(invalid(name, "volume options must not be specified"));
    }
    if kind != MountKind::Tmpfs && tmpfs_opts {
        return Err(invalid(name, "tmpfs options must not be specified"));
    }
    if kind != MountKind::Bind && !m.propagation.is_empty() {
        return Err(invalid(name, "bind options must not be specified"));
    }
    let wanted = match kind {
        MountKind::Bind => {
            if !m.source.starts_with('/') {
                return Err(invalid(
                    name,
                    format!(
                        "invalid mount path: '{}' mount path must be absolute",
                        m.source
                    ),
                ));
            }
            let propagation = match m.propagation.as_str() {
                "" => "rprivate",
                p @ ("private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave") => p,
                p => return Err(invalid(name, format!("invalid propagation mode {p:?}"))),
            };
            Wanted::Bind {
                source: m.source.clone(),
                must_exist: true,
                propagation: propagation.to_owned(),
            }
        }
        MountKind::Volume => {
            if !m.volume_driver_options.is_empty() {
                return Err(invalid(
                    name,
                    "the local volume driver of berth takes no options: drop volume-opt",
                ));
            }
            Wanted::Volume {
                name: (!m.source.is_empty()).then(|| m.source.clone()),
                copy: !m.no_copy,
                labels: m.volume_labels.clone().into_iter().collect(),
            }
        }
        MountKind::Tmpfs => {
            if !m.source.is_empty() {
                return Err(invalid(name, "source must not be specified"));
            }
            let mut opts = Vec::new();
            if m.tmpfs_size_bytes > 0 {
                opts.push(format!("size={}", m.tmpfs_size_bytes));
            }
            if m.tmpfs_mode > 0 {
                opts.push(format!("mode={:o}", m.tmpfs_mode & 0o7777));
            }
            if m.read_only {
                opts.push("ro".to_owned());
            }
            Wanted::Tmpfs {
                options: opts.join(","),
            }
        }
    };
    Ok(Planned {
        destination,
        readonly: m.read_only,
        mode: if kind == MountKind::Volume { "z" } else { "" }.to_owned(),
        wanted,
    })
}

/// The runtime's bind entry; its `:`-separated form cannot carry a `:` in a path.
fn bind_entry(source: &str, p: &Planned, propagation: &str) -> Result<String, ContainerError> {
    if source.contains(':') || p.destination.contains(':') {
        return Err(ContainerError::invalid(format!(
            "berth cannot mount {source:?} at {:?} yet: paths with ':' are not supported",
            p.destination
        )));
    }
    let rw = if p.readonly { "ro" } else { "rw" };
    Ok(format!("{source}:{}:{rw},{propagation}", p.destination))
}

impl Containers {
    /// Ties a plan to the host: creates missing volumes, checks `--mount` bind sources.
    /// Blocking; call it with the `names` lock held, so no volume it uses can be removed
    /// before the container's record names it. Each volume it makes is noted under the
    /// create's `id` first, so a crash from here on leaves nothing the next start's
    /// sweep does not find; the create's record or [`Records::abandon`] clears the notes.
    ///
    /// [`Records::abandon`]: super::record::Records::abandon
    pub fn resolve_mounts(
        &self,
        id: &str,
        planned: Vec<Planned>,
    ) -> Result<Resolved, ContainerError> {
        let mut out = Resolved::default();
        let result = self.resolve_into(id, planned, &mut out);
        if let Err(e) = result {
            self.forget_volumes(&out.created);
            let _ = self.records.abandon(id);
            return Err(e);
        }
        out.binds
            .sort_by_key(|b| b.split(':').nth(1).map_or(0, |d| d.matches('/').count()));
        Ok(out)
    }

    fn resolve_into(
        &self,
        id: &str,
        planned: Vec<Planned>,
        out: &mut Resolved,
    ) -> Result<(), ContainerError> {
        for p in planned {
            let record = |kind, name: &str, source: &str, propagation: &str| MountRecord {
                kind,
                name: name.to_owned(),
                source: source.to_owned(),
                destination: p.destination.clone(),
                mode: p.mode.clone(),
                rw: !p.readonly,
                propagation: propagation.to_owned(),
            };
            match &p.wanted {
                Wanted::Bind {
                    source,
                    must_exist,
                    propagation,
                } => {
                    if *must_exist && !Path::new(source).exists() {
                        return Err(invalid(
                            "bind",
                            format!("bind source path does not exist: {source}"),
                        ));
                    }
                    out.binds.push(bind_entry(source, &p, propagation)?);
                    out.records
                        .push(record(MountKind::Bind, "", source, propagation));
                }
                Wanted::Volume { name, copy, labels } => {
                    let mut labels = labels.clone();
                    if name.is_none() {
                        labels.insert(ANONYMOUS_LABEL.to_owned(), String::new());
                    }
                    // Named here rather than by the store, so the note can come first.
                    let name = name.clone().unwrap_or_else(crate::random_id);
                    if self.volumes.get(&name).is_err() {
                        self.records
                            .intend_volume(id, &name)
                            .map_err(|e| ContainerError::internal(e.to_string()))?;
                    }
                    let (volume, new) = self.volumes.create(NewVolume {
                        name: Some(name),
                        labels,
                        ..Default::default()
                    })?;
                    if new {
                        out.created.push(volume.name.clone());
                    }
                    let data = self.volumes.data_path(&volume.name);
                    let source = data.to_string_lossy().into_owned();
                    out.binds.push(bind_entry(&source, &p, "rprivate")?);
                    if *copy {
                        out.copy_up.push((p.destination.clone(), data));
                    }
                    out.records
                        .push(record(MountKind::Volume, &volume.name, &source, ""));
                }
                Wanted::Tmpfs { options } => {
                    out.tmpfs.push((p.destination.clone(), options.clone()));
                    out.records.push(record(MountKind::Tmpfs, "", "", ""));
                }
            }
        }
        Ok(())
    }

    /// Removes volumes a failed create made; they were never visible in use.
    pub fn forget_volumes(&self, names: &[String]) {
        for name in names {
            if let Err(e) = self.volumes.remove(name)
                && !matches!(e, crate::volumes::VolumeError::NotFound(_))
            {
                tracing::warn!(volume = %name, error = %e, "removing a volume of a failed create");
            }
        }
    }
}

#[cfg(test)]
mod tests;
