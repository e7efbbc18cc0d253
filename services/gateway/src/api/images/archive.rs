//! Images as tar streams: `GET /images/get` and `/images/{name}/get` (docker save),
//! `POST /images/load` (docker load), `POST /images/create?fromSrc=-` (docker import).
//!
//! Bodies are streamed both ways: a multi-gigabyte image never sits in the gateway's
//! memory, and the client sees progress while the image store works.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use berth_proto::v1::import_archive_request::Part as ArchivePart;
use berth_proto::v1::import_archive_response::Event;
use berth_proto::v1::import_rootfs_request::Part as RootfsPart;
use berth_proto::v1::{
    ExportArchiveRequest, ImportArchiveHeader, ImportArchiveRequest, ImportRootfsHeader,
    ImportRootfsRequest, Progress,
};
use futures::{Stream, StreamExt};
use http::header;
use serde_json::{Value, json};

use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

/// The JSON message stream the docker CLI renders (moby's `jsonmessage`).
pub(super) fn json_stream(messages: impl Stream<Item = Value> + Send + 'static) -> Response {
    let body = messages.map(|m| {
        let mut line = serde_json::to_vec(&m).unwrap_or_default();
        line.push(b'\n');
        Ok::<_, std::convert::Infallible>(line)
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

pub(super) fn progress_message(p: Progress) -> Value {
    let mut m = json!({ "status": p.status });
    if !p.id.is_empty() {
        m["id"] = json!(p.id);
    }
    if let Some(d) = p.detail {
        m["progressDetail"] = json!({ "current": d.current, "total": d.total });
    }
    if let Some(e) = p.error {
        m = error_message(&e.message);
    }
    // A push's result: Docker sends it alone on its line.
    if let Some(a) = p.aux.filter(|_| p.status.is_empty()) {
        m = json!({
            "progressDetail": {},
            "aux": {
                "Tag": a.tag,
                "Digest": a.digest.map(|d| d.value).unwrap_or_default(),
                "Size": a.size,
            }
        });
    }
    m
}

/// How a failure after the first byte reaches the client: an error message in the stream
/// (the status line has gone out already), which the CLI prints and exits non-zero on.
pub(super) fn error_message(message: &str) -> Value {
    json!({ "errorDetail": { "message": message }, "error": message })
}

pub async fn save_many(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let names = QueryPairs::parse(raw.as_deref()).all("names");
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "no image names given: use ?names=NAME (repeatable)",
        ));
    }
    save(&state, names).await
}

pub async fn save(state: &AppState, references: Vec<String>) -> Result<Response, ApiError> {
    let stream = state
        .image_store()
        .export_archive(ExportArchiveRequest {
            references,
            platform: None,
        })
        .await?
        .into_inner();
    let body = stream.map(|chunk| {
        chunk
            .map(|c| c.data)
            // A broken stream must not look like a short but valid tar: fail the body, so
            // the client sees a transfer error.
            .map_err(|status| std::io::Error::other(status.message().to_owned()))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(body),
    )
        .into_response())
}

pub async fn load(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let quiet = QueryPairs::parse(raw.as_deref()).flag("quiet")?;
    let header = ImportArchiveRequest {
        part: Some(ArchivePart::Header(ImportArchiveHeader {
            quiet,
            platform: None,
        })),
    };
    let data = tokio_stream::StreamExt::map_while(body.into_data_stream(), |chunk| match chunk {
        Ok(bytes) => Some(ImportArchiveRequest {
            part: Some(ArchivePart::Data(bytes.to_vec())),
        }),
        Err(e) => {
            // Ending the request stream early makes the store see a truncated archive
            // and reject it, which is what a cut upload is.
            tracing::warn!(error = %e, "docker load body ended with an error");
            None
        }
    });
    let requests = futures::stream::iter([header]).chain(data);
    let mut responses = state
        .image_store()
        .import_archive(requests)
        .await?
        .into_inner();
    // The first answer decides the status: a bad archive is a 400, not a 200 with an error
    // buried in the stream.
    let first = responses.message().await?;
    let rest = futures::stream::unfold(responses, |mut r| async move {
        match r.message().await {
            Ok(Some(m)) => Some((Ok(m), r)),
            Ok(None) => None,
            Err(status) => Some((Err(status), r)),
        }
    });
    let messages = futures::stream::iter(first.map(Ok))
        .chain(rest)
        .scan(false, |failed, item| {
            let out = if *failed {
                None
            } else {
                Some(match item {
                    Ok(m) => match m.event {
                        Some(Event::Progress(p)) => progress_message(p),
                        Some(Event::Loaded(l)) if l.reference.is_empty() => {
                            json!({ "stream": format!("Loaded image ID: {}\n", l.image_id.map(|d| d.value).unwrap_or_default()) })
                        }
                        Some(Event::Loaded(l)) => json!({ "stream": format!("Loaded image: {}\n", l.reference) }),
                        None => json!({}),
                    },
                    Err(status) => {
                        *failed = true;
                        error_message(status.message())
                    }
                })
            };
            std::future::ready(out)
        });
    Ok(json_stream(messages))
}

/// `POST /images/create`: with `fromSrc=-` an import of the request body, with
/// `fromImage` a pull through the registry proxy.
pub async fn create(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    match (q.get("fromSrc"), q.get("fromImage")) {
        (Some("-"), _) => {}
        (Some(src), _) => {
            return Err(ApiError::bad_request(format!(
                "importing from a URL ({src}) is not supported: berth has no internet access by design; download the file and use `docker import FILE`"
            )));
        }
        (None, Some(image)) => return super::pull::pull(&state, &q, image, &headers).await,
        (None, None) => {
            return Err(ApiError::bad_request(
                "give fromSrc=- (import) or fromImage (pull)",
            ));
        }
    }
    let reference = match (
        q.get("repo").filter(|r| !r.is_empty()),
        q.get("tag").filter(|t| !t.is_empty()),
    ) {
        (Some(repo), Some(tag)) => format!("{repo}:{tag}"),
        (Some(repo), None) => repo.to_owned(),
        (None, _) => String::new(),
    };
    let header = ImportRootfsRequest {
        part: Some(RootfsPart::Header(ImportRootfsHeader {
            reference,
            changes: q.all("changes"),
            message: q.get("message").unwrap_or("").to_owned(),
            platform: None,
        })),
    };
    let data = tokio_stream::StreamExt::map_while(body.into_data_stream(), |chunk| {
        chunk.ok().map(|bytes| ImportRootfsRequest {
            part: Some(RootfsPart::Data(bytes.to_vec())),
        })
    });
    let imported = state
        .image_store()
        .import_rootfs(futures::stream::iter([header]).chain(data))
        .await?
        .into_inner();
    let id = imported.image_id.map(|d| d.value).unwrap_or_default();
    Ok(json_stream(futures::stream::iter([
        json!({ "status": id }),
    ])))
}
