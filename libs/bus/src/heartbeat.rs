//! Runner heartbeats: how gateways learn the runner pool and its free capacity.

use serde::{Deserialize, Serialize};

/// Sent by each runner every [`RunnerHeartbeat::interval_ms`], and at once when asked on
/// [`crate::subjects::RUNNER_DISCOVER`]. A runner silent for three intervals is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerHeartbeat {
    pub runner_id: String,
    /// Where the runner's gRPC service listens, as its clients must dial it.
    pub address: String,
    pub hostname: String,
    pub ncpu: u32,
    pub mem_total: u64,
    pub containers_running: u32,
    pub interval_ms: u64,
    /// Set on the last heartbeat of a runner that shuts down cleanly.
    #[serde(default)]
    pub leaving: bool,
}
