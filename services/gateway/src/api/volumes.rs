//! `/volumes/...`: the Docker volume API. Volumes belong to the runner of their host:
//! listing and pruning ask every runner, the others go to the runner that holds the
//! volume, and a new volume goes to the least loaded runner.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_proto::v1::{
    CreateVolumeRequest, InspectVolumeRequest, ListVolumesRequest, PruneVolumesRequest,
    RemoveVolumeRequest, StringList,
};
use bollard_stubs::models::{Volume, VolumeListResponse, VolumePruneResponse, VolumeScopeEnum};
use http::StatusCode;
use serde::Deserialize;

use crate::api::filters::Filters;
use crate::api::images::convert::rfc3339;
use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).delete(remove))
}

/// Docker's `VolumeCreateOptions`, strictly: a misspelt field is refused, not ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct CreateBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    driver_opts: Option<HashMap<String, String>>,
    #[serde(default)]
    labels: Option<HashMap<String, String>>,
    #[serde(default)]
    cluster_volume_spec: Option<serde_json::Value>,
}

fn docker_volume(v: berth_proto::v1::Volume) -> Volume {
    Volume {
        // Docker formats it with whole seconds (Go's time.RFC3339).
        created_at: Some(rfc3339(
            &v.created_at
                .map(|t| prost_types::Timestamp { nanos: 0, ..t }),
        )),
        scope: Some(VolumeScopeEnum::LOCAL),
        usage_data: v.usage.map(|u| bollard_stubs::models::VolumeUsageData {
            size: u.size,
            ref_count: u.ref_count,
        }),
        name: v.name,
        driver: v.driver,
        mountpoint: v.mountpoint,
        labels: v.labels,
        options: v.options,
        ..Default::default()
    }
}

/// The parsed filters in the runner's form.
fn proto_filters(filters: &Filters, names: &[&str]) -> HashMap<String, StringList> {
    names
        .iter()
        .filter(|n| !filters.get(n).is_empty())
        .map(|n| {
            let values = filters.get(n).to_vec();
            (n.to_string(), StringList { values })
        })
        .collect()
}

async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<VolumeListResponse>, ApiError> {
    const FILTERS: &[&str] = &["name", "label", "dangling", "driver"];
    let q = QueryPairs::parse(raw.as_deref());
    let filters = proto_filters(&Filters::parse(q.get("filters"), FILTERS)?, FILTERS);
    let mut volumes = Vec::new();
    let mut warnings = Vec::new();
    for mut runner in state.all_runners()? {
        let listed = runner
            .list_volumes(ListVolumesRequest {
                filters: filters.clone(),
                usage: false,
            })
            .await?
            .into_inner();
        volumes.extend(listed.volumes.into_iter().map(docker_volume));
        warnings.extend(listed.warnings);
    }
    Ok(Json(VolumeListResponse {
        volumes: Some(volumes),
        warnings: Some(warnings),
    }))
}

async fn create(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let body: CreateBody = if body.is_empty() {
        CreateBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid volume create options: {e}")))?
    };
    if body.cluster_volume_spec.is_some_and(|s| !s.is_null()) {
        return Err(ApiError::bad_request(
            "cluster volumes need Docker swarm, which berth does not have: drop the cluster options",
        ));
    }
    let name = body.name.unwrap_or_default();
    // Docker answers a create of an existing name with that volume; it may be on any runner.
    let existing = if name.is_empty() {
        None
    } else {
        state.runner_for_volume(&name).await?
    };
    let mut runner = match existing {
        Some(runner) => runner,
        None => state.any_runner()?,
    };
    let created = runner
        .create_volume(CreateVolumeRequest {
            name,
            driver: body.driver.unwrap_or_default(),
            driver_opts: body.driver_opts.unwrap_or_default(),
            labels: body.labels.unwrap_or_default(),
        })
        .await?
        .into_inner();
    let volume = created.volume.map(docker_volume).unwrap_or_default();
    Ok((StatusCode::CREATED, Json(volume)).into_response())
}

fn no_such_volume(name: &str) -> ApiError {
    ApiError::not_found(format!("get {name}: no such volume"))
}

async fn inspect(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Volume>, ApiError> {
    let mut runner = state
        .runner_for_volume(&name)
        .await?
        .ok_or_else(|| no_such_volume(&name))?;
    let found = runner
        .inspect_volume(InspectVolumeRequest { name })
        .await?
        .into_inner();
    Ok(Json(found.volume.map(docker_volume).unwrap_or_default()))
}

async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let force = QueryPairs::parse(raw.as_deref()).flag("force")?;
    match state.runner_for_volume(&name).await? {
        Some(mut runner) => {
            runner
                .remove_volume(RemoveVolumeRequest { name, force })
                .await?;
        }
        // Docker's force forgives a missing volume.
        None if force => {}
        None => return Err(no_such_volume(&name)),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn prune(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<VolumePruneResponse>, ApiError> {
    const FILTERS: &[&str] = &["label", "label!", "all"];
    let q = QueryPairs::parse(raw.as_deref());
    let filters = proto_filters(&Filters::parse(q.get("filters"), FILTERS)?, FILTERS);
    let (mut deleted, mut reclaimed) = (Vec::new(), 0u64);
    for mut runner in state.all_runners()? {
        let pruned = runner
            .prune_volumes(PruneVolumesRequest {
                filters: filters.clone(),
            })
            .await?
            .into_inner();
        deleted.extend(pruned.volumes_deleted);
        reclaimed += pruned.space_reclaimed;
    }
    Ok(Json(VolumePruneResponse {
        volumes_deleted: Some(deleted),
        space_reclaimed: Some(reclaimed as i64),
    }))
}
