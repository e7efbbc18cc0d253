//! `GET /events`: the bus's event stream as Docker's newline-delimited JSON.
//!
//! Events are durable on the bus, so `--since` replays the past from any gateway replica;
//! without `--until` the stream then follows live events until the client goes away.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use berth_bus::event::Event;
use berth_bus::subjects;
use futures::StreamExt;
use http::header;
use serde::Deserialize;

use super::filters::Filters;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/events", get(events))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    since: Option<String>,
    until: Option<String>,
    filters: Option<String>,
}

const FILTERS: &[&str] = &[
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// Docker's timestamps: Unix seconds with an optional fraction (`1700000000.5`), as the
/// CLI sends them after turning `10m` or a date into one.
fn parse_time(raw: &str, what: &str) -> Result<SystemTime, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "invalid {what} time {raw:?}: expected Unix seconds, e.g. 1700000000.5"
        ))
    };
    let (secs, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let secs: u64 = secs.parse().map_err(|_| bad())?;
    let nanos = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        digits.parse::<u32>().map_err(|_| bad())?
    };
    Ok(UNIX_EPOCH + Duration::new(secs, nanos))
}

fn matches(filters: &Filters, e: &Event) -> bool {
    let kind = e.kind.as_str();
    let name = e.actor.attributes.get("name").map(String::as_str);
    let is_actor = |wanted: &str| {
        e.actor.id == wanted || e.actor.id.starts_with(wanted) || name == Some(wanted)
    };
    let verb = e.action.split(':').next().unwrap_or(&e.action);
    filters.accepts("type", |t| t == kind)
        && filters.accepts("event", |a| a == verb || a == e.action)
        && filters.accepts("scope", |s| s == e.scope)
        && filters.accepts_labels(|k| e.actor.attributes.get(k).map(String::as_str))
        && [
            "container",
            "image",
            "network",
            "volume",
            "daemon",
            "plugin",
            "node",
            "service",
            "secret",
            "config",
        ]
        .iter()
        .all(|k| filters.get(k).is_empty() || (kind == *k && filters.accepts(k, is_actor)))
}

async fn events(
    State(state): State<AppState>,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    let filters = Filters::parse(q.filters.as_deref(), FILTERS)?;
    let since = q
        .since
        .as_deref()
        .map(|s| parse_time(s, "since"))
        .transpose()?;
    let until = q
        .until
        .as_deref()
        .map(|u| parse_time(u, "until"))
        .transpose()?;
    let past_until = until.is_some_and(|u| u <= SystemTime::now());
    let source = match (since, past_until) {
        // Everything asked for is stored already: read it and end.
        (Some(t), true) => state.bus.replay_stored(subjects::EVENTS, t).await,
        (Some(t), false) => state.bus.replay(subjects::EVENTS, t).await,
        (None, true) => Ok(berth_bus::Subscription::empty()),
        (None, false) => state.bus.subscribe(subjects::EVENTS).await,
    }
    .map_err(|e| ApiError::unavailable(format!("cannot read events: {e}")))?;

    let until_nanos =
        until.map(|u| u.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as i64);
    let decoded = source.filter_map(|m| {
        let event = m.decode::<Event>();
        if let Err(e) = &event {
            tracing::warn!(error = %e, "skipping a malformed event");
        }
        std::future::ready(event.ok())
    });
    let bounded = decoded
        .take_while(move |e| std::future::ready(until_nanos.is_none_or(|u| e.time_nano <= u)));
    let bounded: futures::stream::BoxStream<'static, Event> = match until {
        // An `until` still ahead ends the stream when it comes, even if no event does.
        Some(u) if !past_until => {
            let wait = u.duration_since(SystemTime::now()).unwrap_or_default();
            let deadline = tokio::time::sleep(wait);
            bounded.take_until(deadline).boxed()
        }
        _ => bounded.boxed(),
    };
    let body = bounded
        .filter(move |e| std::future::ready(matches(&filters, e)))
        .map(|e| {
            let mut line = serde_json::to_vec(&e).unwrap_or_default();
            line.push(b'\n');
            Ok::<_, std::convert::Infallible>(line)
        });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .map_err(|e| ApiError::new(http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

#[cfg(test)]
mod tests {
    use berth_bus::event::EventKind;

    use super::*;

    #[test]
    fn parses_docker_timestamps() {
        assert_eq!(
            parse_time("12", "since").unwrap(),
            UNIX_EPOCH + Duration::from_secs(12)
        );
        assert_eq!(
            parse_time("12.5", "since").unwrap(),
            UNIX_EPOCH + Duration::from_millis(12_500)
        );
        assert_eq!(
            parse_time("1.000000001", "since").unwrap(),
            UNIX_EPOCH + Duration::new(1, 1)
        );
        assert!(parse_time("10m", "since").is_err());
    }

    #[test]
    fn filters_select_by_type_action_actor_and_label() {
        let e = Event::now(EventKind::Image, "tag", "sha256:abcdef")
            .with_attribute("name", "busybox:latest");
        let f = |raw: &str| Filters::parse(Some(raw), FILTERS).unwrap();
        assert!(matches(&f(r#"{"type":["image"]}"#), &e));
        assert!(!matches(&f(r#"{"type":["container"]}"#), &e));
        assert!(matches(&f(r#"{"event":["tag","untag"]}"#), &e));
        assert!(!matches(&f(r#"{"event":["delete"]}"#), &e));
        assert!(matches(&f(r#"{"image":["busybox:latest"]}"#), &e));
        assert!(matches(&f(r#"{"image":["sha256:abc"]}"#), &e));
        assert!(!matches(&f(r#"{"container":["busybox:latest"]}"#), &e));
        assert!(matches(&f(r#"{"label":["name=busybox:latest"]}"#), &e));
        assert!(!matches(&f(r#"{"label":["name=x"]}"#), &e));
    }
}
