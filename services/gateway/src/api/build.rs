//! `/build/*` that the builder's cache answers.
//!
//! `POST /build/prune` is what `docker builder prune` and every `docker system prune` call
//! last. berth has no build cache until the builder lands, so there is never anything to
//! delete; the request is still checked as Docker checks it (filters, sizes), so a typo
//! fails here as it will once there is a cache.

use axum::extract::RawQuery;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::api::filters::{Filters, until_seconds};
use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

/// BuildKit's prune filters, plus the label filters `docker system prune --filter` passes to
/// every prune.
const FILTERS: &[&str] = &[
    "until",
    "unused-for",
    "id",
    "parent",
    "type",
    "description",
    "inuse",
    "shared",
    "private",
    "label",
    "label!",
];

/// The size limits a prune may keep (API 1.39+ `keep-storage`, 1.48+ the three others).
const SIZES: &[&str] = &[
    "keep-storage",
    "reserved-space",
    "max-used-space",
    "min-free-space",
];

pub fn routes() -> Router<AppState> {
    Router::new().route("/build/prune", post(prune))
}

async fn prune(RawQuery(raw): RawQuery) -> Result<Json<Value>, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    q.flag("all")?;
    let filters = Filters::parse(q.get("filters"), FILTERS)?;
    for v in filters.get("until").iter().chain(filters.get("unused-for")) {
        until_seconds(v)?;
    }
    for key in SIZES {
        if let Some(v) = q.get(key)
            && v.parse::<i64>().is_err()
        {
            return Err(ApiError::bad_request(format!(
                "invalid {key} {v:?}: a number of bytes"
            )));
        }
    }
    Ok(Json(json!({ "CachesDeleted": [], "SpaceReclaimed": 0 })))
}
