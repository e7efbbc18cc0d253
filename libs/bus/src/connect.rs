//! Choosing the bus from a process's flags.

use std::sync::Arc;

use crate::{Bus, BusError, InProcessBus, NatsBus, NatsOptions};

/// NATS when `nats_url` is given, connecting with `options`; otherwise an in-process bus,
/// whose messages never leave this process. The latter is right for `berthd` and for
/// trying one service alone.
pub async fn connect(
    nats_url: Option<&str>,
    options: &NatsOptions,
) -> Result<Arc<dyn Bus>, BusError> {
    match nats_url {
        Some(url) => Ok(Arc::new(NatsBus::connect_with(url, options).await?)),
        None => Ok(Arc::new(InProcessBus::new())),
    }
}
