//! The Docker Engine API routes. One module per route group, as in moby's own router.

mod auth;
mod build;
mod containers;
mod events;
pub mod filters;
pub mod images;
pub mod networks;
pub mod query;
mod system;
pub mod version;
mod volumes;

use axum::Router;
use axum::body::Body;
use axum::response::IntoResponse;
use http::Request;

use crate::error::ApiError;
use crate::state::AppState;

/// Every route, without the `/v1.NN` prefix (see [`version::strip_prefix`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(system::routes())
        .merge(auth::routes())
        .merge(events::routes())
        .merge(build::routes())
        .merge(images::routes())
        .merge(containers::routes())
        .merge(volumes::routes())
        .merge(networks::routes())
        .fallback(unknown_endpoint)
        .with_state(state)
}

/// Docker answers unknown paths with 404 "page not found"; berth adds which one it was.
async fn unknown_endpoint(req: Request<Body>) -> impl IntoResponse {
    ApiError::not_found(format!(
        "page not found: berth has no endpoint {} {}",
        req.method(),
        req.uri().path()
    ))
}
