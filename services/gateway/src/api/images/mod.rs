//! `/images/...`: the Docker image API, each call forwarded to the image store.
//!
//! Image names contain slashes (`localhost:5000/team/app:1`), so `/images/{name}/json`
//! cannot be a plain route: everything under `/images/` is caught once and split here,
//! from the right, as moby's router does with its `{name:.*}` patterns.

mod archive;
pub mod convert;
mod inspect;
mod list;
mod manage;
pub mod pull;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::Method;

use super::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/images/json", get(list::list))
        .route("/images/prune", post(manage::prune))
        .route("/images/load", post(archive::load))
        .route("/images/get", get(archive::save_many))
        .route("/images/create", post(archive::create))
        .route(
            "/images/{*rest}",
            get(by_name).post(by_name).delete(by_name),
        )
}

async fn by_name(
    State(state): State<AppState>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(raw): RawQuery,
    headers: http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let query = QueryPairs::parse(raw.as_deref());
    let split = |suffix: &str| rest.strip_suffix(suffix).filter(|n| !n.is_empty());
    match method {
        Method::GET => {
            if let Some(name) = split("/json") {
                return inspect::inspect(&state, name).await;
            }
            if let Some(name) = split("/history") {
                return inspect::history(&state, name).await;
            }
            if let Some(name) = split("/get") {
                return archive::save(&state, vec![name.to_owned()]).await;
            }
        }
        Method::POST => {
            if let Some(name) = split("/tag") {
                return manage::tag(&state, name, &query).await;
            }
            if let Some(name) = split("/push") {
                return pull::push(&state, name, &query, &headers).await;
            }
        }
        Method::DELETE => return manage::delete(&state, &rest, &query).await,
        _ => {}
    }
    drop(body);
    Err(ApiError::not_found(format!(
        "page not found: berth has no endpoint {method} /images/{rest}"
    )))
}
