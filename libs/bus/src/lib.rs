//! berth's event bus: facts that services tell each other (events, heartbeats, cache
//! invalidation), as opposed to commands, which go over gRPC.
//!
//! One trait, [`Bus`], two implementations: [`NatsBus`] for services spread over processes
//! and hosts, [`InProcessBus`] for `berthd`, where all services share one process. The
//! same conformance tests run against both, so code written against the trait behaves the
//! same in either shape.
//!
//! Subjects ([`subjects`]) and message types ([`event`], [`heartbeat`]) are defined here
//! once; no service spells a subject string of its own.

mod bus;
mod connect;
mod error;
pub mod event;
pub mod heartbeat;
mod in_process;
mod message;
mod nats;
mod nats_auth;
pub mod subjects;

pub use bus::{Bus, BusExt};
pub use connect::connect;
pub use error::BusError;
pub use in_process::InProcessBus;
pub use message::{Headers, Message, Subscription};
pub use nats::NatsBus;
pub use nats_auth::{NatsCredentials, NatsOptions, NatsTls, Secret};

/// How many durable messages (events) either implementation keeps for replay. Docker keeps
/// its last 1,000 events in memory; berth keeps more because several services feed it.
pub const RETAINED_EVENTS: usize = 10_000;
