//! `GET /images/{name}/json` (docker image inspect) and `GET /images/{name}/history`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use berth_proto::v1::{ImageHistoryRequest, InspectImageRequest};
use serde_json::{Value, json};

use super::convert::{digest, rfc3339, unix_seconds};
use crate::error::ApiError;
use crate::state::AppState;

pub async fn inspect(state: &AppState, name: &str) -> Result<Response, ApiError> {
    let image = state
        .image_store()
        .inspect_image(InspectImageRequest {
            reference: name.to_owned(),
            platform: None,
        })
        .await?
        .into_inner();
    let config: Value = serde_json::from_slice(&image.config_json).map_err(|e| {
        ApiError::new(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("image {name} has an unreadable config: {e}"),
        )
    })?;
    let c = &config["config"];
    let pick = |key: &str| c.get(key).cloned().unwrap_or(Value::Null);
    Ok(Json(json!({
        "Id": digest(&image.id),
        "RepoTags": image.repo_tags,
        "RepoDigests": image.repo_digests,
        "Parent": digest(&image.parent_id),
        "Comment": config["history"].as_array().and_then(|h| h.last()).and_then(|h| h["comment"].as_str()).unwrap_or(""),
        "Created": config["created"].as_str().unwrap_or("0001-01-01T00:00:00Z"),
        "DockerVersion": "",
        "Author": config["author"].as_str().unwrap_or(""),
        "Config": {
            "Hostname": "", "Domainname": "", "User": pick("User").as_str().unwrap_or(""),
            "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
            "ExposedPorts": pick("ExposedPorts"),
            "Tty": false, "OpenStdin": false, "StdinOnce": false,
            "Env": pick("Env"), "Cmd": pick("Cmd"), "Entrypoint": pick("Entrypoint"),
            "Image": "", "Volumes": pick("Volumes"),
            "WorkingDir": pick("WorkingDir").as_str().unwrap_or(""),
            "OnBuild": pick("OnBuild"), "Labels": pick("Labels"),
            "StopSignal": pick("StopSignal"),
        },
        "Architecture": config["architecture"].as_str().unwrap_or(""),
        "Variant": config.get("variant"),
        "Os": config["os"].as_str().unwrap_or(""),
        "Size": image.size,
        "GraphDriver": { "Name": "overlay2", "Data": {} },
        "RootFS": { "Type": "layers", "Layers": config["rootfs"]["diff_ids"] },
        "Metadata": { "LastTagTime": image.last_tag_time.as_ref().map(|t| rfc3339(&Some(*t))).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()) },
    }))
    .into_response())
}

pub async fn history(state: &AppState, name: &str) -> Result<Response, ApiError> {
    let entries = state
        .image_store()
        .image_history(ImageHistoryRequest {
            reference: name.to_owned(),
            platform: None,
        })
        .await?
        .into_inner()
        .entries;
    let body: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            json!({
                "Id": e.id,
                "Created": unix_seconds(&e.created),
                "CreatedBy": e.created_by,
                "Tags": if e.tags.is_empty() { Value::Null } else { json!(e.tags) },
                "Size": e.size,
                "Comment": e.comment,
            })
        })
        .collect();
    Ok(Json(body).into_response())
}
