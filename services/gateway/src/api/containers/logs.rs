//! `GET /containers/{id}/logs`: entries as Docker's multiplexed stream (an 8-byte frame
//! header: stream, three zero bytes, big-endian length; then the payload).

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use berth_proto::v1::{LogsRequest, StdioStream};
use futures::StreamExt;
use http::header;

use crate::api::images::convert::rfc3339;
use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

/// Docker's `since`/`until`: Unix seconds, possibly fractional.
fn timestamp(raw: &str) -> Result<prost_types::Timestamp, ApiError> {
    let (s, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let seconds = s
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid time {raw:?}")))?;
    let nanos = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}")[..9]
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid time {raw:?}")))?
    };
    Ok(prost_types::Timestamp { seconds, nanos })
}

/// One multiplexed frame.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

pub async fn logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let (stdout, stderr) = (q.flag("stdout")?, q.flag("stderr")?);
    if !stdout && !stderr {
        return Err(ApiError::bad_request("you must choose at least one stream"));
    }
    let tail = match q.get("tail") {
        None | Some("all") | Some("") => None,
        Some(n) => Some(
            n.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid tail {n:?}")))?,
        ),
    };
    let timestamps = q.flag("timestamps")?;
    let request = LogsRequest {
        container: id.clone(),
        follow: q.flag("follow")?,
        since: q
            .get("since")
            .filter(|s| !s.is_empty() && *s != "0")
            .map(timestamp)
            .transpose()?,
        until: q
            .get("until")
            .filter(|s| !s.is_empty() && *s != "0")
            .map(timestamp)
            .transpose()?,
        tail,
        timestamps,
        stdout,
        stderr,
    };
    let mut runner = state.runner_for(&id).await?;
    let tty = runner
        .inspect_container(berth_proto::v1::InspectContainerRequest {
            container: id,
            size: false,
        })
        .await?
        .into_inner()
        .spec
        .is_some_and(|s| s.tty);
    let entries = runner.logs(request).await?.into_inner();
    let body = entries.map(move |entry| {
        let entry = entry.map_err(|s| std::io::Error::other(s.message().to_owned()))?;
        let mut payload = Vec::new();
        if timestamps {
            payload.extend_from_slice(rfc3339(&entry.timestamp).as_bytes());
            payload.push(b' ');
        }
        payload.extend_from_slice(&entry.data);
        let stream = if entry.stream == StdioStream::Stderr as i32 {
            2
        } else {
            1
        };
        // With a TTY there is one stream and no framing, as in Docker.
        Ok::<_, std::io::Error>(if tty {
            payload
        } else {
            frame(stream, &payload)
        })
    });
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(body),
    )
        .into_response())
}
