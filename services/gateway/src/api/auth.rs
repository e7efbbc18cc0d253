//! `POST /auth` (docker login): the registry proxy tries the credentials.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use berth_proto::v1::LoginRequest;
use serde_json::{Value, json};

use crate::api::images::pull::AuthConfig;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/auth", post(login))
}

async fn login(
    State(state): State<AppState>,
    Json(a): Json<AuthConfig>,
) -> Result<Json<Value>, ApiError> {
    let answer = state
        .registry_proxy()
        .login(LoginRequest {
            auth: Some(a.into_proto()),
        })
        .await?
        .into_inner();
    Ok(Json(json!({
        "Status": answer.status,
        "IdentityToken": answer.identity_token,
    })))
}
