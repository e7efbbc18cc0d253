//! The loopback interface of a container's namespace, and what the two non-bridge
//! network modes need from this crate.
//!
//! - `--network none`: the runner creates a network namespace and calls
//!   [`bring_up_loopback`]; the container has `lo` and nothing else.
//! - `--network host`: the runner creates no network namespace; the container shares the
//!   host's interfaces, ports and routes. Nothing here is called, and the runner gives
//!   the container the host's `/etc/hosts` and `/etc/resolv.conf` as Docker does.

use std::path::Path;

use crate::error::Result;
use crate::netlink::Netlink;

/// Brings `lo` up inside the network namespace at `netns` (a new namespace has it down).
pub async fn bring_up_loopback(netns: &Path) -> Result<()> {
    let inside = Netlink::inside(netns).await?;
    let lo = inside.require_index("lo").await?;
    inside.set_up(lo, "lo").await
}
