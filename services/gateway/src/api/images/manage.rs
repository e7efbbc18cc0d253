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

pub async fn delete(state: &AppState, name: &str, q: &QueryPairs) -> Result<Response, ApiError> {
    let deleted = state
        .image_store()
        .delete_image(DeleteImageRequest {
            reference: name.to_owned(),
            force: q.flag("force")?,
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
            // No runner runs containers yet, so no image is in use; the runner issue
            // gathers the images of existing containers here.
            keep_image_ids: Vec::new(),
        })
        .await?
        .into_inner();
    let deleted = items(pruned.deleted);
    Ok(Json(json!({
        "ImagesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) },
        "SpaceReclaimed": pruned.space_reclaimed,
    })))
}
