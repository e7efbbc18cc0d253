//! Keeps containers off the engine's own listeners, as Docker's INPUT rules do: a
//! container reaches the host at its bridge's gateway address, and without this a
//! process in any container could call a Docker API bound to 0.0.0.0, which is root on
//! the host.
//!
//! The rules live in one chain per engine, `BERTH-IN-<its default bridge>` in the
//! `filter` table, reached by one jump from `INPUT`, so engines on one host (tests run
//! several) each keep and remove their own. It drops TCP from the engine's default
//! bridge and from every user-defined bridge (`br-+`) to the guarded ports; it never
//! touches another rule.

use crate::error::Result;
use crate::nat::{chain_exists, ensure_chain, ensure_rule, iptables, run_ignoring_missing};

/// The guard chain of the engine whose default bridge is `bridge`.
pub fn host_guard_chain(bridge: &str) -> String {
    format!("BERTH-IN-{bridge}")
}

/// Drops TCP from containers (on `bridge` and on `br-+` bridges) to the host's `ports`;
/// running it again adds nothing twice.
pub async fn guard_host_ports(bridge: &str, ports: &[u16]) -> Result<()> {
    let chain = host_guard_chain(bridge);
    ensure_chain("filter", &chain).await?;
    for port in ports {
        let port = port.to_string();
        for from in [bridge, "br-+"] {
            let rule = ["-i", from, "-p", "tcp", "--dport", &port, "-j", "DROP"];
            ensure_rule("filter", &chain, &rule, false).await?;
        }
    }
    ensure_rule("filter", "INPUT", &["-j", &chain], true).await
}

/// Removes what [`guard_host_ports`] added; fine to run when nothing is there.
pub async fn unguard_host_ports(bridge: &str) -> Result<()> {
    let chain = host_guard_chain(bridge);
    run_ignoring_missing(&["-t", "filter", "-D", "INPUT", "-j", &chain]).await?;
    if chain_exists("filter", &chain).await? {
        iptables(&["-t", "filter", "-F", &chain]).await?;
        iptables(&["-t", "filter", "-X", &chain]).await?;
    }
    Ok(())
}
