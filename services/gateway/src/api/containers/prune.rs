//! `POST /containers/prune` (docker container prune): every runner removes its stopped
//! containers that the filters accept.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use berth_proto::v1::{PruneContainersRequest, StringList};
use serde_json::{Value, json};

use crate::api::filters::{Filters, until_seconds};
use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

const FILTERS: &[&str] = &["label", "label!", "until"];

pub async fn prune(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let filters = Filters::parse(q.get("filters"), FILTERS)?;
    // Runners compare plain Unix seconds; Docker's durations and dates resolve here, once.
    let until = filters
        .get("until")
        .iter()
        .map(|v| until_seconds(v).map(|s| s.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sent: HashMap<String, StringList> = ["label", "label!"]
        .iter()
        .map(|f| {
            (
                f.to_string(),
                StringList {
                    values: filters.get(f).to_vec(),
                },
            )
        })
        .collect();
    sent.insert("until".into(), StringList { values: until });
    let (mut deleted, mut reclaimed) = (Vec::new(), 0);
    for mut runner in state.all_runners()? {
        let pruned = runner
            .prune_containers(PruneContainersRequest {
                filters: sent.clone(),
            })
            .await?
            .into_inner();
        deleted.extend(pruned.containers_deleted);
        reclaimed += pruned.space_reclaimed;
    }
    Ok(Json(json!({
        "ContainersDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) },
        "SpaceReclaimed": reclaimed,
    })))
}
