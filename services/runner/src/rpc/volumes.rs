//! The volume RPCs: `docker volume create/ls/inspect/rm/prune` on this host's volumes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use berth_proto::v1::*;
use tonic::{Response, Status};

use crate::containers::Containers;
use crate::error::{Classified as _, ErrorKind};
use crate::rpc::blocking;
use crate::volumes::{NewVolume, VolumeRecord};

fn volume(c: &Containers, v: &VolumeRecord, usage: Option<VolumeUsage>) -> Volume {
    Volume {
        name: v.name.clone(),
        driver: v.driver.clone(),
        mountpoint: c.volumes.data_path(&v.name).display().to_string(),
        created_at: Some(prost_types::Timestamp {
            seconds: v.created.div_euclid(1_000_000_000),
            nanos: v.created.rem_euclid(1_000_000_000) as i32,
        }),
        labels: v.labels.clone().into_iter().collect(),
        scope: "local".to_owned(),
        options: v.options.clone().into_iter().collect(),
        usage,
    }
}

/// Docker's `label` filter: `key` or `key=value`.
fn has_label(v: &VolumeRecord, filter: &str) -> bool {
    berth_filters::label_matches(&v.labels, filter)
}

fn values<'a>(filters: &'a HashMap<String, StringList>, name: &str) -> &'a [String] {
    filters
        .get(name)
        .map(|l| l.values.as_slice())
        .unwrap_or(&[])
}

/// Docker's booleans in filters (`dangling=true`, `all=1`).
fn truth(name: &str, v: &str) -> Result<bool, Status> {
    match v {
        "1" | "true" | "True" | "TRUE" => Ok(true),
        "0" | "false" | "False" | "FALSE" => Ok(false),
        _ => Err(Status::invalid_argument(format!(
            "invalid filter '{name}={v}': use true or false"
        ))),
    }
}

pub async fn create(
    c: &Arc<Containers>,
    r: CreateVolumeRequest,
) -> Result<Response<CreateVolumeResponse>, Status> {
    let this = c.clone();
    blocking(move || {
        let (v, _) = this.volumes.create(NewVolume {
            name: (!r.name.is_empty()).then_some(r.name),
            driver: r.driver,
            options: r.driver_opts.into_iter().collect(),
            labels: r.labels.into_iter().collect(),
        })?;
        Ok(Response::new(CreateVolumeResponse {
            volume: Some(volume(&this, &v, None)),
        }))
    })
    .await
}

pub async fn inspect(
    c: &Arc<Containers>,
    r: InspectVolumeRequest,
) -> Result<Response<InspectVolumeResponse>, Status> {
    let v = c.volumes.get(&r.name)?;
    Ok(Response::new(InspectVolumeResponse {
        volume: Some(volume(c, &v, None)),
    }))
}

pub async fn remove(
    c: &Arc<Containers>,
    r: RemoveVolumeRequest,
) -> Result<Response<RemoveVolumeResponse>, Status> {
    match c.remove_volume(&r.name).await {
        // Docker's force forgives a missing volume, never one in use.
        Err(e) if r.force && e.kind() == ErrorKind::NotFound => {}
        other => other?,
    }
    Ok(Response::new(RemoveVolumeResponse {}))
}

pub async fn list(
    c: &Arc<Containers>,
    r: ListVolumesRequest,
) -> Result<Response<ListVolumesResponse>, Status> {
    let users = c.volume_users()?;
    let dangling = values(&r.filters, "dangling")
        .iter()
        .map(|v| truth("dangling", v))
        .collect::<Result<Vec<_>, _>>()?;
    let accepts = |name: &str, f: &dyn Fn(&str) -> bool| {
        let vs = values(&r.filters, name);
        vs.is_empty() || vs.iter().any(|v| f(v))
    };
    let mut volumes = Vec::new();
    for v in c.volumes.list()? {
        let unused = !users.contains_key(&v.name);
        let keep = accepts("name", &|n| v.name.contains(n))
            && accepts("driver", &|d| v.driver == d)
            && values(&r.filters, "label").iter().all(|l| has_label(&v, l))
            && dangling.iter().all(|d| *d == unused);
        if !keep {
            continue;
        }
        let usage = r.usage.then(|| VolumeUsage {
            size: c.volumes.size(&v.name) as i64,
            ref_count: users.get(&v.name).map_or(0, Vec::len) as i64,
        });
        volumes.push(volume(c, &v, usage));
    }
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Response::new(ListVolumesResponse {
        volumes,
        warnings: Vec::new(),
    }))
}

/// Docker 1.42+: unused anonymous volumes, or all unused ones with `all=true`; `label`
/// and `label!` narrow it.
pub async fn prune(
    c: &Arc<Containers>,
    r: PruneVolumesRequest,
) -> Result<Response<PruneVolumesResponse>, Status> {
    let mut all = false;
    for v in values(&r.filters, "all") {
        all |= truth("all", v)?;
    }
    let _names = c.names.lock().await;
    let users = c.volume_users()?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0;
    let candidates: BTreeMap<String, VolumeRecord> = c
        .volumes
        .list()?
        .into_iter()
        .map(|v| (v.name.clone(), v))
        .collect();
    for (name, v) in candidates {
        let keep = users.contains_key(&name)
            || (!all && !v.anonymous())
            || !values(&r.filters, "label").iter().all(|l| has_label(&v, l))
            || values(&r.filters, "label!")
                .iter()
                .any(|l| has_label(&v, l));
        if keep {
            continue;
        }
        let size = c.volumes.size(&name);
        match c.volumes.remove(&name) {
            Ok(()) => {
                reclaimed += size;
                deleted.push(name);
            }
            Err(e) => tracing::warn!(volume = %name, error = %e, "pruning a volume failed"),
        }
    }
    Ok(Response::new(PruneVolumesResponse {
        volumes_deleted: deleted,
        space_reclaimed: reclaimed,
    }))
}
