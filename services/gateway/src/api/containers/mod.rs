//! `/containers/...`: the Docker container API, each call forwarded to the runner that
//! holds the container (or, for create, the runner the pool picks).

mod attach;
mod create;
mod exec;
mod hijack;
mod lifecycle;
mod list;
mod logs;
mod mounts;
mod observe;
mod prune;
mod unhonoured;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/create", post(create::create))
        .route("/containers/json", get(list::list))
        .route("/containers/prune", post(prune::prune))
        .route("/containers/{id}/json", get(list::inspect))
        .route("/containers/{id}/start", post(lifecycle::start))
        .route("/containers/{id}/stop", post(lifecycle::stop))
        .route("/containers/{id}/restart", post(lifecycle::restart))
        .route("/containers/{id}/kill", post(lifecycle::kill))
        .route("/containers/{id}/wait", post(lifecycle::wait))
        .route("/containers/{id}/logs", get(logs::logs))
        .route("/containers/{id}/attach", post(attach::attach))
        .route("/containers/{id}/pause", post(lifecycle::pause))
        .route("/containers/{id}/unpause", post(lifecycle::unpause))
        .route("/containers/{id}/resize", post(lifecycle::resize))
        .route("/containers/{id}/top", get(observe::top))
        .route("/containers/{id}/stats", get(observe::stats))
        .route("/containers/{id}/rename", post(observe::rename))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/containers/{id}", delete(lifecycle::remove))
}
