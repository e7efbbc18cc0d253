//! Telling gateways this runner exists: a heartbeat every interval, one at once when a
//! gateway asks, and a last one saying goodbye on a clean stop.

use std::sync::Arc;
use std::time::Duration;

use berth_bus::heartbeat::RunnerHeartbeat;
use berth_bus::{Bus, BusError, BusExt, subjects};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::host::HostFacts;

/// Sends heartbeats until `stop`; subscribes to discovery requests before returning, so no
/// request sent after this returns goes unanswered.
pub async fn start(
    bus: Arc<dyn Bus>,
    runner_id: String,
    address: String,
    interval: Duration,
    facts: &HostFacts,
    stop: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, BusError> {
    let mut discover = bus.subscribe(subjects::RUNNER_DISCOVER).await?;
    let subject = subjects::runner_heartbeat(&runner_id);
    let mut beat = RunnerHeartbeat {
        runner_id,
        address,
        hostname: facts.hostname.clone(),
        ncpu: facts.ncpu,
        mem_total: facts.mem_total,
        containers_running: 0,
        interval_ms: interval.as_millis() as u64,
        leaving: false,
    };
    Ok(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticker.tick() => {}
                m = discover.next() => if m.is_none() { break },
            }
            if let Err(e) = bus.publish_json(&subject, &beat).await {
                tracing::warn!(error = %e, "heartbeat not sent");
            }
        }
        beat.leaving = true;
        if let Err(e) = bus.publish_json(&subject, &beat).await {
            tracing::debug!(error = %e, "goodbye heartbeat not sent");
        }
    }))
}
