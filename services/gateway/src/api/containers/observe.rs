//! `docker top`, `docker stats`, `docker rename`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use berth_proto::v1::{RenameContainerRequest, StatsRequest, StatsSample, TopRequest};
use futures::StreamExt;
use http::{StatusCode, header};
use serde_json::{Value, json};

use crate::api::images::convert::rfc3339;
use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn top(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let mut runner = state.runner_for(&id).await?;
    let top = runner
        .top(TopRequest {
            container: id,
            ps_args: q.get("ps_args").unwrap_or("").to_owned(),
        })
        .await?
        .into_inner();
    Ok(Json(json!({
        "Titles": top.titles,
        "Processes": top.processes.into_iter().map(|p| p.values).collect::<Vec<_>>(),
    })))
}

fn cpu(s: &StatsSample) -> Value {
    let c = s.cpu.clone().unwrap_or_default();
    json!({
        "cpu_usage": { "total_usage": c.total_usage, "usage_in_kernelmode": c.usage_in_kernelmode, "usage_in_usermode": c.usage_in_usermode },
        "system_cpu_usage": c.system_cpu_usage,
        "online_cpus": c.online_cpus,
        "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
    })
}

/// Docker's stats object: this sample, with the previous one as `precpu_stats` so the
/// client can compute a CPU percentage.
fn docker_stats(id: &str, name: &str, now: &StatsSample, before: Option<&StatsSample>) -> Value {
    let m = now.memory.clone().unwrap_or_default();
    let p = now.pids.unwrap_or_default();
    json!({
        "id": id,
        "name": format!("/{name}"),
        "read": rfc3339(&now.read),
        "preread": before.map(|b| rfc3339(&b.read)).unwrap_or_else(|| "0001-01-01T00:00:00Z".to_owned()),
        "pids_stats": { "current": p.current, "limit": p.limit },
        "cpu_stats": cpu(now),
        "precpu_stats": before.map(cpu).unwrap_or_else(|| json!({ "cpu_usage": { "total_usage": 0 }, "throttling_data": {} })),
        "memory_stats": { "usage": m.usage, "limit": m.limit, "stats": {} },
        "blkio_stats": {},
        "networks": {},
    })
}

pub async fn stats(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let stream = q
        .get("stream")
        .map(|v| crate::api::query::parse_bool("stream", v))
        .transpose()?
        .unwrap_or(true);
    let one_shot = q.flag("one-shot")?;
    let mut runner = state.runner_for(&id).await?;
    let info = runner
        .inspect_container(berth_proto::v1::InspectContainerRequest {
            container: id.clone(),
            size: false,
        })
        .await?
        .into_inner();
    // Without a stream Docker still takes two samples a second apart, so the one answer
    // carries a CPU percentage; one-shot skips that.
    let samples = runner
        .stats(StatsRequest {
            container: info.id.clone(),
            stream: stream || !one_shot,
            one_shot,
        })
        .await?
        .into_inner();
    let (cid, name) = (info.id, info.name);
    let take = if stream {
        usize::MAX
    } else if one_shot {
        1
    } else {
        2
    };
    let body = samples
        .take(take)
        .scan(None::<StatsSample>, move |prev, s| {
            let out = s.map(|s| {
                let v = docker_stats(&cid, &name, &s, prev.as_ref());
                *prev = Some(s);
                v
            });
            std::future::ready(Some(out))
        })
        .enumerate()
        .filter(move |(i, _)| std::future::ready(stream || one_shot || *i == 1))
        .map(|(_, v)| {
            let mut line =
                serde_json::to_vec(&v.map_err(|s| std::io::Error::other(s.message().to_owned()))?)
                    .unwrap_or_default();
            line.push(b'\n');
            Ok::<_, std::io::Error>(line)
        });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

pub async fn rename(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let name = q
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("a new name (name) is required"))?;
    let mut runner = state.runner_for(&id).await?;
    runner
        .rename_container(RenameContainerRequest {
            container: id,
            new_name: name.to_owned(),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
