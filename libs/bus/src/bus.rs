//! The bus contract and typed helpers over it.

use std::time::SystemTime;

use async_trait::async_trait;
use serde::Serialize;

use crate::event::Event;
use crate::{BusError, Message, Subscription, subjects};

/// A publish/subscribe bus with NATS semantics: subjects are dot-separated tokens,
/// patterns use `*` for one token and `>` for the rest; core messages are at-most-once
/// (a slow or absent subscriber misses them); durable ones are stored for replay.
#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug + 'static {
    /// Sends a message to everyone subscribed now; nobody listening means nobody gets it.
    async fn publish(&self, message: Message) -> Result<(), BusError>;

    /// Every message on subjects matching `pattern` from now on.
    async fn subscribe(&self, pattern: &str) -> Result<Subscription, BusError>;

    /// Like [`Bus::subscribe`], but each message goes to only one member of `group`: how a
    /// farm of builders shares one queue of jobs.
    async fn queue_subscribe(&self, pattern: &str, group: &str) -> Result<Subscription, BusError>;

    /// Stores the message durably, then delivers it like [`Bus::publish`]. Returns once it
    /// is stored. Only subjects under [`subjects::EVENTS`] are durable.
    async fn persist(&self, message: Message) -> Result<(), BusError>;

    /// Durable messages matching `pattern` stored at or after `since`, oldest first, then
    /// live ones as they are persisted: `docker events --since` without gaps or repeats.
    async fn replay(&self, pattern: &str, since: SystemTime) -> Result<Subscription, BusError>;

    /// Like [`Bus::replay`] but finite: the durable messages stored from `since` up to this
    /// call, then the stream ends. `docker events --until <past>` must end even when
    /// nothing more is ever published.
    async fn replay_stored(
        &self,
        pattern: &str,
        since: SystemTime,
    ) -> Result<Subscription, BusError>;
}

/// Typed, traced publishing on top of any [`Bus`].
#[async_trait]
pub trait BusExt: Bus {
    /// Persists a Docker-shaped event on its subject, with the current trace context.
    async fn emit(&self, event: &Event) -> Result<(), BusError> {
        let message = traced_json(event.subject(), event)?;
        self.persist(message).await
    }

    /// Publishes `value` as JSON on `subject`, with the current trace context.
    async fn publish_json<T: Serialize + Sync>(
        &self,
        subject: &str,
        value: &T,
    ) -> Result<(), BusError> {
        self.publish(traced_json(subject.to_owned(), value)?).await
    }
}

impl<B: Bus + ?Sized> BusExt for B {}

fn traced_json<T: Serialize>(subject: String, value: &T) -> Result<Message, BusError> {
    subjects::validate(&subject, false)?;
    let payload = serde_json::to_vec(value).map_err(|source| BusError::Encode {
        subject: subject.clone(),
        source,
    })?;
    let mut message = Message::new(subject, payload);
    message.headers = berth_telemetry::propagation::headers_of(&tracing::Span::current());
    Ok(message)
}

pub(crate) fn is_durable(subject: &str) -> bool {
    subjects::matches(subjects::EVENTS, subject)
}

pub(crate) fn ensure_durable(subject: &str) -> Result<(), BusError> {
    if is_durable(subject) {
        Ok(())
    } else {
        Err(BusError::nats(
            "persist",
            subject,
            format!("only subjects under {} are durable", subjects::EVENTS),
        ))
    }
}
