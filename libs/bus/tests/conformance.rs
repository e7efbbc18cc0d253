//! The bus contract, checked against both implementations: a real `nats-server` (started
//! here on a free port) and the in-process bus. Each scenario is written once.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use berth_bus::event::{Event, EventKind};
use berth_bus::{Bus, BusExt, InProcessBus, Message, NatsBus, Subscription, subjects};
use berth_testkit::NatsServer;
use futures::StreamExt;

/// Long enough never to fire on a healthy machine; it bounds a failing test.
const PATIENCE: Duration = Duration::from_secs(10);

async fn next(sub: &mut Subscription) -> Message {
    tokio::time::timeout(PATIENCE, sub.next())
        .await
        .expect("a message within the deadline")
        .expect("subscription still open")
}

/// Proves `sub` holds nothing more: a marker published after everything else must be the
/// very next message. No sleeping and hoping.
async fn assert_nothing_before_marker(bus: &dyn Bus, sub: &mut Subscription, marker: &str) {
    bus.publish(Message::new(marker, "marker")).await.unwrap();
    let m = next(sub).await;
    assert_eq!(m.subject, marker, "unexpected message before the marker");
}

async fn publish_reaches_matching_subscribers(bus: Arc<dyn Bus>) {
    let mut exact = bus.subscribe("t.a.b").await.unwrap();
    let mut star = bus.subscribe("t.*.b").await.unwrap();
    let mut tail = bus.subscribe("t.>").await.unwrap();

    bus.publish(Message::new("t.a.b", "1")).await.unwrap();
    bus.publish(Message::new("t.x.c", "2")).await.unwrap();

    assert_eq!(next(&mut exact).await.payload, "1");
    assert_eq!(next(&mut star).await.payload, "1");
    assert_eq!(next(&mut tail).await.payload, "1");
    assert_eq!(next(&mut tail).await.payload, "2");
    // t.x.c matches neither t.a.b nor t.*.b.
    assert_nothing_before_marker(&*bus, &mut exact, "t.a.b").await;
    assert_eq!(
        next(&mut star).await.subject,
        "t.a.b",
        "star saw only the marker"
    );
}

async fn queue_group_delivers_each_message_once(bus: Arc<dyn Bus>) {
    let mut a = bus.queue_subscribe("jobs.>", "farm").await.unwrap();
    let mut b = bus.queue_subscribe("jobs.>", "farm").await.unwrap();
    let mut watcher = bus.subscribe("jobs.>").await.unwrap();

    const N: usize = 20;
    for i in 0..N {
        bus.publish(Message::new(format!("jobs.{i}"), i.to_string()))
            .await
            .unwrap();
    }
    for _ in 0..N {
        next(&mut watcher).await;
    }

    // A duplicate would stand in for a missing job and show in the comparison below.
    let (mut from_a, mut from_b) = (0, 0);
    let mut got = Vec::new();
    while got.len() < N {
        let m = tokio::time::timeout(PATIENCE, async {
            tokio::select! {
                Some(m) = a.next() => { from_a += 1; m }
                Some(m) = b.next() => { from_b += 1; m }
            }
        })
        .await
        .expect("all jobs delivered to the group");
        got.push(m.payload);
    }
    assert!(
        from_a > 0 && from_b > 0,
        "work is shared: a={from_a} b={from_b}"
    );
    got.sort();
    let mut want: Vec<bytes::Bytes> = (0..N).map(|i| i.to_string().into()).collect();
    want.sort();
    assert_eq!(got, want, "each job exactly once across the group");
}

async fn headers_travel_with_messages(bus: Arc<dyn Bus>) {
    let mut sub = bus.subscribe("h.test").await.unwrap();
    let mut m = Message::new("h.test", "x");
    m.headers.insert(
        "traceparent".into(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
    );
    bus.publish(m.clone()).await.unwrap();
    let got = next(&mut sub).await;
    assert_eq!(got.headers.get("traceparent"), m.headers.get("traceparent"));
}

async fn events_are_durable_and_replayed_from_a_time(bus: Arc<dyn Bus>) {
    let first = Event::now(EventKind::Image, "tag", "sha256:1");
    bus.emit(&first).await.unwrap();
    let cut = SystemTime::now();
    let second = Event::now(EventKind::Image, "untag", "sha256:2");
    bus.emit(&second).await.unwrap();
    let other = Event::now(EventKind::Container, "start", "c1");
    bus.emit(&other).await.unwrap();

    let mut images = bus.replay("berth.events.image.>", cut).await.unwrap();
    let replayed: Event = next(&mut images).await.decode().unwrap();
    assert_eq!(
        replayed, second,
        "only events at or after the cut, of the pattern"
    );

    // Then live events follow in the same stream.
    let third = Event::now(EventKind::Image, "delete", "sha256:3");
    bus.emit(&third).await.unwrap();
    let live: Event = next(&mut images).await.decode().unwrap();
    assert_eq!(live, third);

    let mut all = bus
        .replay(subjects::EVENTS, SystemTime::UNIX_EPOCH)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(next(&mut all).await.decode::<Event>().unwrap().actor.id);
    }
    assert_eq!(ids, ["sha256:1", "sha256:2", "c1", "sha256:3"]);
}

async fn stored_replay_ends_after_what_was_stored(bus: Arc<dyn Bus>) {
    let start = SystemTime::now();
    let mut none = bus.replay_stored(subjects::EVENTS, start).await.unwrap();
    assert!(
        next_or_end(&mut none).await.is_none(),
        "nothing stored yet: the stream ends"
    );

    for id in ["a", "b", "c"] {
        bus.emit(&Event::now(EventKind::Network, "create", id))
            .await
            .unwrap();
    }
    let mut stored = bus.replay_stored(subjects::EVENTS, start).await.unwrap();
    bus.emit(&Event::now(EventKind::Network, "create", "later"))
        .await
        .unwrap();
    let mut ids = Vec::new();
    while let Some(m) = next_or_end(&mut stored).await {
        ids.push(m.decode::<Event>().unwrap().actor.id);
    }
    // "later" may or may not make it (it raced the end), but the stream ends either way.
    assert_eq!(&ids[..3], ["a", "b", "c"]);
    assert!(ids.len() == 3 || ids[3] == "later", "{ids:?}");
}

async fn next_or_end(sub: &mut Subscription) -> Option<Message> {
    tokio::time::timeout(PATIENCE, sub.next())
        .await
        .expect("the stream yields or ends within the deadline")
}

async fn only_event_subjects_are_durable(bus: Arc<dyn Bus>) {
    let err = bus
        .persist(Message::new("berth.runners.heartbeat.x", "{}"))
        .await;
    assert!(err.is_err(), "heartbeats are not durable");
    let err = bus
        .publish(Message::new("bad subject", ""))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid subject"), "{err}");
    assert!(bus.subscribe("a.>.b").await.is_err());
}

macro_rules! conformance {
    ($($scenario:ident),* $(,)?) => {
        mod in_process {
            use super::*;
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(Arc::new(InProcessBus::new())).await;
                }
            )*
        }
        mod nats {
            use super::*;
            $(
                #[tokio::test]
                async fn $scenario() {
                    let server = NatsServer::start();
                    let bus = NatsBus::connect(server.url()).await.expect("connect");
                    super::$scenario(Arc::new(bus)).await;
                }
            )*
        }
    };
}

conformance!(
    publish_reaches_matching_subscribers,
    queue_group_delivers_each_message_once,
    headers_travel_with_messages,
    events_are_durable_and_replayed_from_a_time,
    stored_replay_ends_after_what_was_stored,
    only_event_subjects_are_durable,
);
