//! `/networks/...`: Docker's network API. Networks belong to runners (scope "local"); a
//! gateway creates each one on every live runner under one ID, so a container placed on
//! any runner can join it, and merges what the runners report.

mod list;
pub use manage::endpoint_config;
pub mod manage;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list::list))
        .route("/networks/create", post(manage::create))
        .route("/networks/prune", post(manage::prune))
        .route("/networks/{id}", get(list::inspect).delete(manage::remove))
        .route("/networks/{id}/connect", post(manage::connect))
        .route("/networks/{id}/disconnect", post(manage::disconnect))
}
