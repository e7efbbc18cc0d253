//! Naming and removing images: `POST /images/{name}/tag`, `DELETE /images/{name}`,
//! `POST /images/prune`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use berth_proto::v1::deleted_image_item::Item;
use berth_proto::v1::{
    DeleteImageRequest, DeletedImageItem, ImageReference, PruneImagesRequest, StringList,
    TagRequest,
};
use http::StatusCode;
use serde_json::{Value, json};

use crate::api::filters::Filters;
use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn tag(state: &AppState, source: &str, q: &QueryPairs) -> Result<Response, ApiError> {
    let repo = q
        .get("repo")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::bad_request("repository name (repo) is required"))?;
    let tag = q.get("tag").filter(|t| !t.is_empty());
    let original = match tag {
        Some(t) => format!("{repo}:{t}"),
        None => repo.to_owned(),
    };
    state
        .image_store()
        .tag(TagRequest {
            source: source.to_owned(),
            target: Some(ImageReference {
                original,
                ..Default::default()
            }),
            repo_digest: false,
        })
        .await?;
    Ok(StatusCode::CREATED.into_response())
}

fn items(list: Vec<DeletedImageItem>) -> Vec<Value> {
    list.into_iter()
        .filter_map(|i| match i.item? {
            Item::Untagged(name) => Some(json!({ "Untagged": name })),
            Item::Deleted(d) => Some(json!({ "Deleted": d.value })),
        })
        .collect()
}

/// The images containers use, and whether one of those containers is running, across
/// every runner: the image store cannot know about containers, the gateway asks.
async fn images_in_use(state: &AppState) -> Result<Vec<(String, String, bool)>, ApiError> {
    let mut used = Vec::new();
    let Ok(runners) = state.all_runners() else {
        return Ok(used); // no runner, no containers
    };
    for mut runner in runners {
        let list = runner
            .list_containers(berth_proto::v1::ListContainersRequest {
                all: true,
                ..Default::default()
            })
            .await?
            .into_inner();
        for c in list.containers {
            let running = c.state == berth_proto::v1::ContainerStatus::Running as i32
                || c.state == berth_proto::v1::ContainerStatus::Paused as i32;
            used.push((
                c.image_id.map(|d| d.value).unwrap_or_default(),
                c.id,
                running,
            ));
        }
    }
    Ok(used)
}

pub async fn delete(state: &AppState, name: &str, q: &QueryPairs) -> Result<Response, ApiError> {
    let force = q.flag("force")?;
    let resolved = state
        .image_store()
        .resolve(berth_proto::v1::ResolveRequest {
            reference: name.to_owned(),
            platform: None,
        })
        .await?
        .into_inner();
    let image_id = resolved.image_id.map(|d| d.value).unwrap_or_default();
    let tags = state
        .image_store()
        .inspect_image(berth_proto::v1::InspectImageRequest {
            reference: image_id.clone(),
            platform: None,
        })
        .await?
        .into_inner()
        .repo_tags
        .len();
    // Removing one of several names only untags; anything else deletes the image, which
    // Docker refuses while a container uses it.
    let deletes = resolved.reference.is_none() || tags <= 1;
    if deletes {
        let short = |id: &str| {
            id.trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect::<String>()
        };
        for (used, container, running) in images_in_use(state).await? {
            if used != image_id {
                continue;
            }
            if running {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                        short(&image_id),
                        short(&container)
                    ),
                ));
            }
            if !force {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                        short(&image_id),
                        short(&container)
                    ),
                ));
            }
        }
    }
    let deleted = state
        .image_store()
        .delete_image(DeleteImageRequest {
            reference: name.to_owned(),
            force,
            noprune: q.flag("noprune")?,
        })
        .await?
        .into_inner();
    Ok(Json(items(deleted.items)).into_response())
}

const PRUNE_FILTERS: &[&str] = &["dangling", "label", "label!", "until"];

pub async fn prune(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let filters = Filters::parse(q.get("filters"), PRUNE_FILTERS)?;
    let pruned = state
        .image_store()
        .prune_images(PruneImagesRequest {
            filters: PRUNE_FILTERS
                .iter()
                .filter(|f| !filters.get(f).is_empty())
                .map(|f| {
                    (
                        f.to_string(),
                        StringList {
                            values: filters.get(f).to_vec(),
                        },
                    )
                })
                .collect::<HashMap<_, _>>(),
            // Images of existing containers survive a prune, running or not, as in Docker.
            keep_image_ids: images_in_use(&state)
                .await?
                .into_iter()
                .map(|(id, _, _)| berth_proto::v1::Digest { value: id })
                .collect(),
        })
        .await?
        .into_inner();
    let deleted = items(pruned.deleted);
    Ok(Json(json!({
        "ImagesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) },
        "SpaceReclaimed": pruned.space_reclaimed,
    })))
}
