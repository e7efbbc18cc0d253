//! The runners a gateway can place containers on, learnt from their heartbeats on the bus.
//!
//! Gateways are stateless: any replica rebuilds the pool from heartbeats within one
//! interval, and at start it asks every runner to report at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_bus::heartbeat::RunnerHeartbeat;
use berth_bus::{Bus, BusError, Message, subjects};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

/// A runner missing this many heartbeats in a row is taken out of the pool.
const MISSED_HEARTBEATS: u32 = 3;

/// The live runners.
#[derive(Debug, Clone, Default)]
pub struct RunnerPool {
    // Held only to read or replace a map entry, never across an await.
    runners: Arc<Mutex<HashMap<String, (RunnerHeartbeat, Instant)>>>,
    changed: Arc<tokio::sync::Notify>,
}

impl RunnerPool {
    /// Starts following heartbeats; returns once subscribed and the pool has been asked to
    /// report, so runners already up are known as soon as their answer arrives.
    pub async fn follow(bus: Arc<dyn Bus>, stop: CancellationToken) -> Result<Self, BusError> {
        let pool = RunnerPool::default();
        let mut beats = bus.subscribe(subjects::RUNNER_HEARTBEATS).await?;
        bus.publish(Message::new(subjects::RUNNER_DISCOVER, "{}"))
            .await?;
        let updater = pool.clone();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    _ = stop.cancelled() => break,
                    m = beats.next() => match m { Some(m) => m, None => break },
                };
                match message.decode::<RunnerHeartbeat>() {
                    Ok(beat) => updater.record(beat),
                    Err(e) => tracing::warn!(error = %e, "ignoring a malformed heartbeat"),
                }
            }
        });
        Ok(pool)
    }

    fn record(&self, beat: RunnerHeartbeat) {
        let mut runners = self.runners.lock().unwrap_or_else(|p| p.into_inner());
        if beat.leaving {
            runners.remove(&beat.runner_id);
        } else {
            runners.insert(beat.runner_id.clone(), (beat, Instant::now()));
        }
        self.changed.notify_waiters();
    }

    /// Waits until some runner is live, at most `timeout`; true if one is.
    pub async fn wait_for_any(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register interest before checking, so a heartbeat in between is not missed.
            let changed = self.changed.notified();
            if !self.live().is_empty() {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }

    /// Runners heard from recently, the least loaded first.
    pub fn live(&self) -> Vec<RunnerHeartbeat> {
        let now = Instant::now();
        let runners = self.runners.lock().unwrap_or_else(|p| p.into_inner());
        let mut live: Vec<RunnerHeartbeat> = runners
            .values()
            .filter(|(beat, seen)| {
                now.duration_since(*seen)
                    < Duration::from_millis(beat.interval_ms) * MISSED_HEARTBEATS
            })
            .map(|(beat, _)| beat.clone())
            .collect();
        live.sort_by_key(|b| (b.containers_running, b.runner_id.clone()));
        live
    }
}
