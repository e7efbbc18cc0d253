//! `GET /images/json` (docker images).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use berth_proto::v1::{ListImagesRequest, StringList};
use serde_json::{Value, json};

use super::convert::{digest, unix_seconds};
use crate::api::filters::Filters;
use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

const FILTERS: &[&str] = &["before", "dangling", "label", "reference", "since", "until"];

pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Value>>, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let filters = Filters::parse(q.get("filters"), FILTERS)?;
    let request = ListImagesRequest {
        all: q.flag("all")?,
        filters: FILTERS
            .iter()
            .filter(|f| !filters.get(f).is_empty())
            .map(|f| {
                let values = filters.get(f).to_vec();
                (f.to_string(), StringList { values })
            })
            .collect::<HashMap<_, _>>(),
        shared_size: q.flag("shared-size")?,
    };
    let images = state
        .image_store()
        .list_images(request)
        .await?
        .into_inner()
        .images;
    Ok(Json(
        images
            .into_iter()
            .map(|i| {
                json!({
                    "Id": digest(&i.id),
                    "ParentId": digest(&i.parent_id),
                    "RepoTags": i.repo_tags,
                    "RepoDigests": i.repo_digests,
                    "Created": unix_seconds(&i.created),
                    "Size": i.size,
                    "SharedSize": i.shared_size,
                    "Labels": i.labels,
                    // The image store cannot know; Docker also answers -1 unless asked.
                    "Containers": -1,
                })
            })
            .collect(),
    ))
}
