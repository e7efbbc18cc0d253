//! The bus of the single-process default: every service of `berthd` shares one of these.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::bus::{ensure_durable, is_durable};
use crate::{Bus, BusError, Message, RETAINED_EVENTS, Subscription, subjects};

/// How many undelivered messages a subscriber may have before it misses new ones, as a
/// slow consumer does on NATS. Memory stays bounded whatever a subscriber does.
const SUBSCRIBER_BUFFER: usize = 4096;

/// An in-memory bus with the semantics of [`crate::NatsBus`].
#[derive(Debug, Clone, Default)]
pub struct InProcessBus {
    // A std mutex: it is held only to copy a few pointers, never across an await.
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    subscribers: Vec<Subscriber>,
    /// Round-robin position per queue group.
    next_in_group: HashMap<String, usize>,
    history: VecDeque<Message>,
}

#[derive(Debug)]
struct Subscriber {
    pattern: String,
    group: Option<String>,
    tx: mpsc::Sender<Message>,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State inconsistent (every update is
        // one push or retain), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, state: &mut State, pattern: &str, group: Option<&str>) -> Subscription {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
        state.subscribers.push(Subscriber {
            pattern: pattern.to_owned(),
            group: group.map(str::to_owned),
            tx,
        });
        Subscription::new(ReceiverStream::new(rx))
    }

    fn deliver(state: &mut State, message: &Message) {
        state.subscribers.retain(|s| !s.tx.is_closed());
        let mut groups: HashMap<&str, Vec<&Subscriber>> = HashMap::new();
        for sub in &state.subscribers {
            if !subjects::matches(&sub.pattern, &message.subject) {
                continue;
            }
            match &sub.group {
                Some(g) => groups.entry(g).or_default().push(sub),
                None => send(sub, message),
            }
        }
        for (group, members) in groups {
            let turn = state.next_in_group.get(group).copied().unwrap_or(0);
            send(members[turn % members.len()], message);
            state
                .next_in_group
                .insert(group.to_owned(), turn.wrapping_add(1));
        }
    }
}

fn send(sub: &Subscriber, message: &Message) {
    if sub.tx.try_send(message.clone()).is_err() {
        tracing::warn!(subject = %message.subject, pattern = %sub.pattern, "slow subscriber missed a message");
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, message: Message) -> Result<(), BusError> {
        subjects::validate(&message.subject, false)?;
        Self::deliver(&mut self.state(), &message);
        Ok(())
    }

    async fn subscribe(&self, pattern: &str) -> Result<Subscription, BusError> {
        subjects::validate(pattern, true)?;
        let mut state = self.state();
        Ok(self.add(&mut state, pattern, None))
    }

    async fn queue_subscribe(&self, pattern: &str, group: &str) -> Result<Subscription, BusError> {
        subjects::validate(pattern, true)?;
        let mut state = self.state();
        Ok(self.add(&mut state, pattern, Some(group)))
    }

    async fn persist(&self, mut message: Message) -> Result<(), BusError> {
        subjects::validate(&message.subject, false)?;
        ensure_durable(&message.subject)?;
        message.stored_at = Some(SystemTime::now());
        let mut state = self.state();
        if state.history.len() == RETAINED_EVENTS {
            state.history.pop_front();
        }
        state.history.push_back(message.clone());
        Self::deliver(&mut state, &message);
        Ok(())
    }

    async fn replay(&self, pattern: &str, since: SystemTime) -> Result<Subscription, BusError> {
        subjects::validate(pattern, true)?;
        // History and the live subscription are taken under one lock: nothing persisted in
        // between can be missed or seen twice.
        let mut state = self.state();
        let past = stored(&state, pattern, since);
        let live = self.add(&mut state, pattern, None);
        let live = futures::StreamExt::filter(live, |m| std::future::ready(is_durable(&m.subject)));
        Ok(Subscription::new(futures::StreamExt::chain(
            futures::stream::iter(past),
            live,
        )))
    }

    async fn replay_stored(
        &self,
        pattern: &str,
        since: SystemTime,
    ) -> Result<Subscription, BusError> {
        subjects::validate(pattern, true)?;
        let past = stored(&self.state(), pattern, since);
        Ok(Subscription::new(futures::stream::iter(past)))
    }
}

fn stored(state: &State, pattern: &str, since: SystemTime) -> Vec<Message> {
    state
        .history
        .iter()
        .filter(|m| m.stored_at.is_some_and(|t| t >= since))
        .filter(|m| subjects::matches(pattern, &m.subject))
        .cloned()
        .collect()
}
