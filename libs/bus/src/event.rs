//! Events, shaped exactly as Docker's `GET /events` objects so the gateway forwards them
//! as they are.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::subjects;

/// One event: `{"Type","Action","Actor":{"ID","Attributes"},"scope","time","timeNano"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: EventKind,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

/// What an event is about (Docker's `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Builder,
    Config,
    Container,
    Daemon,
    Image,
    Network,
    Node,
    Plugin,
    Secret,
    Service,
    Volume,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Builder => "builder",
            EventKind::Config => "config",
            EventKind::Container => "container",
            EventKind::Daemon => "daemon",
            EventKind::Image => "image",
            EventKind::Network => "network",
            EventKind::Node => "node",
            EventKind::Plugin => "plugin",
            EventKind::Secret => "secret",
            EventKind::Service => "service",
            EventKind::Volume => "volume",
        }
    }
}

/// Who an event is about: an ID and attributes such as `name` or `image`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// A local-scope event happening now.
    pub fn now(kind: EventKind, action: impl Into<String>, id: impl Into<String>) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or_default();
        Event {
            kind,
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: BTreeMap::new(),
            },
            scope: "local".to_owned(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
        }
    }

    /// Adds an actor attribute (Docker puts `name`, `image`, labels here).
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.actor.attributes.insert(key.into(), value.into());
        self
    }

    /// The subject this event travels on.
    pub fn subject(&self) -> String {
        subjects::event(self.kind.as_str(), &self.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_in_docker_shape() {
        let mut e = Event::now(EventKind::Image, "tag", "sha256:abc").with_attribute("name", "a:1");
        e.time = 1;
        e.time_nano = 1_000_000_001;
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "Type": "image", "Action": "tag",
                "Actor": {"ID": "sha256:abc", "Attributes": {"name": "a:1"}},
                "scope": "local", "time": 1, "timeNano": 1_000_000_001i64
            })
        );
        assert_eq!(e.subject(), "berth.events.image.tag");
    }
}
