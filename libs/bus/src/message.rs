//! What travels on the bus.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures::Stream;
use serde::de::DeserializeOwned;

use crate::BusError;

/// Message headers. Trace context travels here as `traceparent`/`tracestate`.
pub type Headers = HashMap<String, String>;

/// One message: a subject, headers and an opaque body (JSON for berth's own types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub headers: Headers,
    pub payload: Bytes,
    /// When the bus stored it: set on durable messages that come from a replay.
    pub stored_at: Option<SystemTime>,
}

impl Message {
    pub fn new(subject: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Message {
            subject: subject.into(),
            headers: Headers::new(),
            payload: payload.into(),
            stored_at: None,
        }
    }

    /// Decodes a JSON body into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, BusError> {
        serde_json::from_slice(&self.payload).map_err(|source| BusError::Decode {
            subject: self.subject.clone(),
            what: std::any::type_name::<T>(),
            source,
        })
    }

    /// Makes the sender's trace context the parent of `span`, so the handler's work joins
    /// the trace of whatever caused the message.
    pub fn adopt_trace(&self, span: &tracing::Span) {
        berth_telemetry::propagation::adopt(span, &self.headers);
    }
}

/// A stream of messages; dropping it unsubscribes.
pub struct Subscription {
    inner: Pin<Box<dyn Stream<Item = Message> + Send>>,
}

impl Subscription {
    pub(crate) fn new(stream: impl Stream<Item = Message> + Send + 'static) -> Self {
        Subscription {
            inner: Box::pin(stream),
        }
    }
}

impl Subscription {
    /// A subscription that has already ended.
    pub fn empty() -> Self {
        Subscription::new(futures::stream::empty())
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Stream for Subscription {
    type Item = Message;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.inner.as_mut().poll_next(cx)
    }
}
