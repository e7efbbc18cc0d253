//! start, stop, kill, wait and remove.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use berth_proto::v1::wait_container_response::Event;
use berth_proto::v1::*;
use http::{StatusCode, header};
use serde_json::json;

use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut runner = state.runner_for(&id).await?;
    let started = runner
        .start_container(StartContainerRequest { container: id })
        .await?
        .into_inner();
    Ok(if started.already_running {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::NO_CONTENT
    }
    .into_response())
}

/// The `t` (seconds) of stop and restart.
fn stop_timeout(q: &QueryPairs) -> Result<Option<i32>, ApiError> {
    q.get("t")
        .map(|t| {
            t.parse::<i32>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeout {t:?}")))
        })
        .transpose()
}

pub async fn stop(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let timeout = stop_timeout(&q)?;
    let mut runner = state.runner_for(&id).await?;
    let stopped = runner
        .stop_container(StopContainerRequest {
            container: id,
            timeout_seconds: timeout,
            signal: q.get("signal").map(str::to_owned),
        })
        .await?
        .into_inner();
    Ok(if stopped.already_stopped {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::NO_CONTENT
    }
    .into_response())
}

pub async fn restart(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let timeout = stop_timeout(&q)?;
    let mut runner = state.runner_for(&id).await?;
    runner
        .restart_container(RestartContainerRequest {
            container: id,
            timeout_seconds: timeout,
            signal: q.get("signal").map(str::to_owned),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn kill(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let mut runner = state.runner_for(&id).await?;
    runner
        .kill_container(KillContainerRequest {
            container: id,
            signal: q.get("signal").unwrap_or("SIGKILL").to_owned(),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Sends the status line and headers at once and the body when the container exits: the
/// docker CLI waits for the headers before it starts the container, even with `-d`.
pub async fn wait(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let condition = match q.get("condition").unwrap_or("not-running") {
        "not-running" | "" => WaitCondition::NotRunning,
        "next-exit" => WaitCondition::NextExit,
        "removed" => WaitCondition::Removed,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid condition: {other:?}"
            )));
        }
    };
    let mut runner = state.runner_for(&id).await?;
    let mut stream = runner
        .wait_container(WaitContainerRequest {
            container: id,
            condition: condition as i32,
        })
        .await?
        .into_inner();
    // The runner acknowledges first; only then is the wait armed.
    match stream.message().await? {
        Some(WaitContainerResponse {
            event: Some(Event::Accepted(_)),
        }) => {}
        _ => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the runner did not accept the wait",
            ));
        }
    }
    let body = futures::stream::once(async move {
        let exit = match stream.message().await {
            Ok(Some(WaitContainerResponse {
                event: Some(Event::Exited(e)),
            })) => {
                json!({ "StatusCode": e.status_code, "Error": e.error.map(|m| json!({ "Message": m })) })
            }
            Ok(_) => {
                json!({ "StatusCode": -1, "Error": { "Message": "the runner ended the wait without an exit status" } })
            }
            Err(status) => json!({ "StatusCode": -1, "Error": { "Message": status.message() } }),
        };
        Ok::<_, std::convert::Infallible>(serde_json::to_vec(&exit).unwrap_or_default())
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let mut runner = state.runner_for(&id).await?;
    runner
        .remove_container(RemoveContainerRequest {
            container: id,
            force: q.flag("force")?,
            volumes: q.flag("v")?,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn pause(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut runner = state.runner_for(&id).await?;
    runner
        .pause_container(PauseContainerRequest { container: id })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn unpause(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut runner = state.runner_for(&id).await?;
    runner
        .unpause_container(UnpauseContainerRequest { container: id })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The `h` and `w` of the container and exec resize calls.
pub(super) fn tty_size(raw: Option<&str>) -> Result<TtySize, ApiError> {
    let q = QueryPairs::parse(raw);
    let dim = |k: &str| -> Result<u32, ApiError> {
        q.get(k)
            .ok_or_else(|| ApiError::bad_request(format!("missing {k}")))?
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid {k}")))
    };
    Ok(TtySize {
        height: dim("h")?,
        width: dim("w")?,
    })
}

/// `POST /containers/{id}/resize?h=&w=`: the terminal size of a `-t` container.
pub async fn resize(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let size = tty_size(raw.as_deref())?;
    let mut runner = state.runner_for(&id).await?;
    runner
        .resize(ResizeRequest {
            container: id,
            size: Some(size),
        })
        .await?;
    Ok(StatusCode::OK.into_response())
}
