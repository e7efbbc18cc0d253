//! The bus over NATS: core subjects for what may be lost (heartbeats), a JetStream stream
//! for what must not (events, which `docker events --since` replays).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, consumer, stream};
use async_trait::async_trait;
use futures::StreamExt;

use crate::bus::ensure_durable;
use crate::nats_auth::NatsOptions;
use crate::{Bus, BusError, Headers, Message, RETAINED_EVENTS, Subscription, subjects};

/// The JetStream stream that holds events.
const EVENTS_STREAM: &str = "BERTH_EVENTS";
/// Events older than this are dropped even when fewer than [`RETAINED_EVENTS`] are kept.
const EVENTS_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// A connection to a NATS server (or cluster) with JetStream enabled.
#[derive(Debug, Clone)]
pub struct NatsBus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    events: stream::Stream,
}

impl NatsBus {
    /// Connects to a server without authorization or TLS (tests, one host) and makes
    /// sure the events stream exists.
    pub async fn connect(url: &str) -> Result<Self, BusError> {
        Self::connect_with(url, &NatsOptions::default()).await
    }

    /// Connects with `options` (credentials, TLS) and makes sure the events stream exists,
    /// so the first event is never lost.
    pub async fn connect_with(url: &str, options: &NatsOptions) -> Result<Self, BusError> {
        let connect_err = |e: &dyn std::fmt::Display| BusError::Connect {
            url: url.to_owned(),
            message: e.to_string(),
        };
        let client = first_connection(url, options).await?;
        let jetstream = jetstream::new(client.clone());
        let events = jetstream
            .get_or_create_stream(stream::Config {
                name: EVENTS_STREAM.to_owned(),
                subjects: vec![subjects::EVENTS.to_owned()],
                max_messages: RETAINED_EVENTS as i64,
                max_age: EVENTS_MAX_AGE,
                ..Default::default()
            })
            .await
            .map_err(|e| connect_err(&format!("JetStream stream {EVENTS_STREAM}: {e}")))?;
        Ok(NatsBus {
            client,
            jetstream,
            events,
        })
    }

    /// Waits until the server has processed everything sent so far (a PING round trip),
    /// so a subscription made before a publish elsewhere is known to the server.
    async fn flush(&self, subject: &str) -> Result<(), BusError> {
        self.client
            .flush()
            .await
            .map_err(|e| BusError::nats("flush", subject, e))
    }
}

/// How long a starting service waits for NATS to come up before it gives up (and, in
/// compose or Kubernetes, is restarted).
const INITIAL_CONNECT_WINDOW: Duration = Duration::from_secs(10);

/// Connects, retrying while the server is unreachable (it may be starting beside us), but
/// failing at once when it refuses our credentials or TLS: retrying cannot fix those, and
/// the user must hear which flag to set rather than a timeout.
async fn first_connection(
    url: &str,
    options: &NatsOptions,
) -> Result<async_nats::Client, BusError> {
    use async_nats::ConnectErrorKind as Kind;
    let deadline = tokio::time::Instant::now() + INITIAL_CONNECT_WINDOW;
    let mut delay = Duration::from_millis(100);
    loop {
        let client_options = options
            .client_options()
            .await
            .map_err(|e| BusError::Connect {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
        let attempt = client_options
            .name("berth")
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await;
        let err = match attempt {
            Ok(client) => return Ok(client),
            Err(err) => err,
        };
        match err.kind() {
            Kind::AuthorizationViolation | Kind::Authentication => {
                return Err(BusError::Auth {
                    url: url.to_owned(),
                    message: err.to_string(),
                    hint: options.auth_hint(),
                });
            }
            // A server that verifies clients rejects a missing or foreign certificate with
            // an alert after the handshake, which the client reads as an I/O error.
            Kind::Tls | Kind::Io if err.kind() == Kind::Tls || is_tls_alert(&err) => {
                return Err(BusError::Tls {
                    url: url.to_owned(),
                    message: err.to_string(),
                    hint: options.tls_hint(),
                });
            }
            _ if tokio::time::Instant::now() + delay >= deadline => {
                return Err(BusError::Connect {
                    url: url.to_owned(),
                    message: err.to_string(),
                });
            }
            _ => {
                tracing::debug!(url, error = %err, "NATS not reachable yet, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

fn is_tls_alert(err: &async_nats::ConnectError) -> bool {
    let text = err.to_string();
    text.contains("alert") || text.contains("certificate")
}

fn to_nats_headers(headers: &Headers) -> async_nats::HeaderMap {
    let mut map = async_nats::HeaderMap::new();
    for (k, v) in headers {
        map.insert(k.as_str(), v.as_str());
    }
    map
}

fn from_nats(
    subject: &str,
    headers: Option<&async_nats::HeaderMap>,
    payload: bytes::Bytes,
) -> Message {
    let mut message = Message::new(subject, payload);
    if let Some(h) = headers {
        for (k, values) in h.iter() {
            if let Some(v) = values.first() {
                message.headers.insert(k.to_string(), v.to_string());
            }
        }
    }
    message
}

fn core_stream(sub: async_nats::Subscriber) -> Subscription {
    Subscription::new(sub.map(|m| from_nats(m.subject.as_str(), m.headers.as_ref(), m.payload)))
}

#[async_trait]
impl Bus for NatsBus {
    async fn publish(&self, message: Message) -> Result<(), BusError> {
        subjects::validate(&message.subject, false)?;
        let subject = message.subject.clone();
        self.client
            .publish_with_headers(
                subject.clone(),
                to_nats_headers(&message.headers),
                message.payload,
            )
            .await
            .map_err(|e| BusError::nats("publish", &subject, e))
    }

    async fn subscribe(&self, pattern: &str) -> Result<Subscription, BusError> {
        subjects::validate(pattern, true)?;
        let sub = self
            .client
            .subscribe(pattern.to_owned())
            .await
            .map_err(|e| BusError::nats("subscribe", pattern, e))?;
        self.flush(pattern).await?;
        Ok(core_stream(sub))
    }

    async fn queue_subscribe(&self, pattern: &str, group: &str) -> Result<Subscription, BusError> {
        subjects::validate(pattern, true)?;
        let sub = self
            .client
            .queue_subscribe(pattern.to_owned(), group.to_owned())
            .await
            .map_err(|e| BusError::nats("queue subscribe", pattern, e))?;
        self.flush(pattern).await?;
        Ok(core_stream(sub))
    }

    async fn persist(&self, message: Message) -> Result<(), BusError> {
        subjects::validate(&message.subject, false)?;
        ensure_durable(&message.subject)?;
        let subject = message.subject.clone();
        let ack = self
            .jetstream
            .publish_with_headers(
                subject.clone(),
                to_nats_headers(&message.headers),
                message.payload,
            )
            .await
            .map_err(|e| BusError::nats("persist", &subject, e))?;
        ack.await
            .map_err(|e| BusError::nats("persist (ack)", &subject, e))?;
        Ok(())
    }

    async fn replay(&self, pattern: &str, since: SystemTime) -> Result<Subscription, BusError> {
        let (_, messages) = self.stored_from(pattern, since).await?;
        Ok(Subscription::new(messages.map(|(m, _)| m)))
    }

    async fn replay_stored(
        &self,
        pattern: &str,
        since: SystemTime,
    ) -> Result<Subscription, BusError> {
        let (pending, messages) = self.stored_from(pattern, since).await?;
        if pending == 0 {
            return Ok(Subscription::new(futures::stream::empty()));
        }
        // Each delivery says how many matching messages were still pending after it; the
        // one with none left is the last stored when the consumer was made... or later,
        // which is as good: it was stored before the caller saw the stream end.
        let messages = Box::pin(messages);
        Ok(Subscription::new(futures::stream::unfold(
            (messages, false),
            |(mut messages, done)| async move {
                if done {
                    return None;
                }
                let (m, left) = messages.next().await?;
                Some((m, (messages, left == 0)))
            },
        )))
    }
}

impl NatsBus {
    /// An ordered consumer over the events stream from `since`: how many matching messages
    /// it has to deliver, and the messages, each with the number still pending after it.
    async fn stored_from(
        &self,
        pattern: &str,
        since: SystemTime,
    ) -> Result<
        (
            u64,
            impl futures::Stream<Item = (Message, u64)> + Send + 'static,
        ),
        BusError,
    > {
        subjects::validate(pattern, true)?;
        let nanos = since
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or_default();
        let start_time = async_nats::datetime::from_nanos(nanos)
            .map_err(|e| BusError::nats("replay", pattern, e))?;
        // An ordered consumer is ephemeral and recreated by the client on gaps: exactly
        // the in-order, no-repeat view that `docker events` needs.
        let mut consumer = self
            .events
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: pattern.to_owned(),
                deliver_policy: consumer::DeliverPolicy::ByStartTime { start_time },
                ..Default::default()
            })
            .await
            .map_err(|e| BusError::nats("replay", pattern, e))?;
        let pending = consumer
            .info()
            .await
            .map_err(|e| BusError::nats("replay", pattern, e))?
            .num_pending;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| BusError::nats("replay", pattern, e))?;
        let subject = pattern.to_owned();
        let messages = messages.filter_map(move |m| {
            let out = match m {
                Ok(m) => {
                    let info = m.info().ok();
                    let left = info.as_ref().map(|i| i.pending).unwrap_or_default();
                    let stored_at = info.map(|i| {
                        UNIX_EPOCH
                            + Duration::from_nanos(i.published.unix_timestamp_nanos().max(0) as u64)
                    });
                    let mut msg =
                        from_nats(m.subject.as_str(), m.headers.as_ref(), m.payload.clone());
                    msg.stored_at = stored_at;
                    Some((msg, left))
                }
                Err(e) => {
                    tracing::warn!(pattern = %subject, error = %e, "event replay interrupted");
                    None
                }
            };
            std::future::ready(out)
        });
        Ok((pending, messages))
    }
}
