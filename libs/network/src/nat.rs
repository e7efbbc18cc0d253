//! The firewall rules of a bridge network: outbound masquerade and forwarding accepts,
//! all inside berth-owned chains named `BERTH-<bridge>` in the `nat` and `filter`
//! tables, reached by one jump each from `POSTROUTING` and `FORWARD`.
//!
//! Why the `iptables` command and not a library: the kernel's xtables ABI is a set of
//! raw C structs, and the nf_tables netlink protocol has no maintained pure-Rust
//! encoder; the command picks the backend the host already uses (nft or legacy), so
//! berth's rules sit next to Docker's, firewalld's or the admin's in the same tables,
//! and `iptables -S` shows them. It runs once per network, never per packet or per
//! container, so its cost does not matter.
//!
//! Networks are isolated from each other as Docker isolates its bridges, in two shared
//! chains (`BERTH-ISOLATION-1`, `-2`, Docker's two stages): the first sends traffic that
//! leaves a berth bridge for another interface to the second, which drops it when that
//! interface is another berth bridge. Every bridge's chain jumps there first, so which
//! bridge's chain the kernel reaches first does not matter.
//!
//! This module must never touch a rule it did not add: everything lives in berth's own
//! chains, and removal deletes only the jumps to them, the bridge's isolation rules, and
//! then the chains (the shared ones once no bridge uses them).

use std::time::Duration;

use tokio::process::Command;
use tracing::debug;

use crate::error::{NetworkError, Result};
use crate::subnet::Ipv4Subnet;

/// The name of berth's chain for a bridge, the same in `nat` and `filter`.
pub fn chain_name(bridge: &str) -> String {
    format!("BERTH-{bridge}")
}

/// The first isolation stage: one rule per bridge, for traffic leaving it.
pub const ISOLATION_1: &str = "BERTH-ISOLATION-1";
/// The second isolation stage: one rule per bridge, dropping what would enter it.
pub const ISOLATION_2: &str = "BERTH-ISOLATION-2";

/// The first rule of the first isolation stage: a connection the kernel DNATed to a
/// published port (a container reaching another network's published port through a
/// host address, as the proxy let it) crosses bridges, both ways. Only published ports
/// are DNATed to a bridge, and the destination bridge's chain accepts only those; and
/// the check must sit here, as whichever bridge's chain the kernel reaches first would
/// drop it through this shared chain.
const DNAT_PASSES: [&str; 6] = ["-m", "conntrack", "--ctstate", "DNAT", "-j", "RETURN"];

/// Adds the rules for a bridge network; running it again adds nothing twice.
pub(crate) async fn install(
    bridge: &str,
    subnet: Ipv4Subnet,
    masquerade: bool,
    internal: bool,
) -> Result<()> {
    let chain = chain_name(bridge);
    let subnet = subnet.to_string();

    ensure_chain("nat", &chain).await?;
    if masquerade {
        // Not for traffic that stays on the bridge: containers see each other's real
        // addresses.
        let rule = ["-s", &subnet, "!", "-o", bridge, "-j", "MASQUERADE"];
        ensure_rule("nat", &chain, &rule, false).await?;
    }
    ensure_rule("nat", "POSTROUTING", &["-s", &subnet, "-j", &chain], true).await?;

    ensure_chain("filter", &chain).await?;
    install_isolation(bridge, &chain).await?;
    if internal {
        // Appended before the accepts below, which come after them in the chain.
        for rule in [
            ["-i", bridge, "!", "-o", bridge, "-j", "DROP"],
            ["-o", bridge, "!", "-i", bridge, "-j", "DROP"],
        ] {
            ensure_rule("filter", &chain, &rule, false).await?;
        }
    }
    // Containers may send anything out; replies may come back in. New connections from
    // outside reach containers only through published ports: the proxies on the host,
    // which are not forwarded traffic, or the DNAT rules, accepted in their own chain.
    ensure_rule("filter", &chain, &["-i", bridge, "-j", "ACCEPT"], false).await?;
    let replies = [
        "-o",
        bridge,
        "-m",
        "conntrack",
        "--ctstate",
        "RELATED,ESTABLISHED",
        "-j",
        "ACCEPT",
    ];
    ensure_rule("filter", &chain, &replies, false).await?;
    // First in FORWARD, so a host whose FORWARD policy is DROP (Docker sets it) still
    // forwards for berth.
    ensure_rule("filter", "FORWARD", &["-j", &chain], true).await?;
    // An internal network publishes nothing beyond the host, as Docker's does.
    if !internal {
        crate::dnat::install(bridge).await?;
    }
    Ok(())
}

/// Where the berth processes of one host take turns at the shared isolation chains.
const ISOLATION_LOCK: &str = "/run/lock/berth-isolation.lock";

/// Holds the host-wide lock on the shared isolation chains until dropped. Several
/// runners (or test daemons) on one host add and remove their bridges' rules there; each
/// step is one iptables call, so without this one could delete the chains another is
/// about to add to. `None` when the lock file cannot be made: the retries below remain.
async fn lock_isolation() -> Option<nix::fcntl::Flock<std::fs::File>> {
    tokio::task::spawn_blocking(|| {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(ISOLATION_LOCK)
            .ok()?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).ok()
    })
    .await
    .ok()
    .flatten()
}

/// The bridge's two isolation rules and the jump from its own chain to the first stage.
/// Another berth process that does not take the lock (an older one) may remove the shared
/// chains between our check and our insert: then they are made again.
async fn install_isolation(bridge: &str, chain: &str) -> Result<()> {
    let _turn = lock_isolation().await;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let installed = async {
            ensure_chain("filter", ISOLATION_2).await?;
            ensure_chain("filter", ISOLATION_1).await?;
            ensure_rule("filter", ISOLATION_1, &DNAT_PASSES, true).await?;
            ensure_rule("filter", ISOLATION_2, &["-o", bridge, "-j", "DROP"], false).await?;
            let stage_one = ["-i", bridge, "!", "-o", bridge, "-j", ISOLATION_2];
            ensure_rule("filter", ISOLATION_1, &stage_one, false).await?;
            ensure_rule("filter", chain, &["-j", ISOLATION_1], true).await
        }
        .await;
        match installed {
            Err(NetworkError::Iptables { .. }) if attempt < 3 => continue,
            other => return other,
        }
    }
}

/// Removes the bridge's isolation rules, and the shared chains once they are empty and
/// no chain jumps to them any more (deleting a chain in use fails, which is the answer).
async fn remove_isolation(bridge: &str) -> Result<()> {
    let _turn = lock_isolation().await;
    let rules: [(&str, Vec<&str>); 2] = [
        (
            ISOLATION_1,
            vec!["-i", bridge, "!", "-o", bridge, "-j", ISOLATION_2],
        ),
        (ISOLATION_2, vec!["-o", bridge, "-j", "DROP"]),
    ];
    for (stage, rule) in &rules {
        if chain_exists("filter", stage).await? {
            let mut args = vec!["-t", "filter", "-D", stage];
            args.extend(rule);
            run_ignoring_missing(&args).await?;
        }
    }
    for stage in [ISOLATION_1, ISOLATION_2] {
        let listing = run_output(&["-t", "filter", "-S", stage]).await?;
        let ours = format!("-A {stage} {}", DNAT_PASSES.join(" "));
        let unused = listing.is_some_and(|text| {
            text.lines()
                .filter(|line| !line.starts_with("-N ") && !line.contains(&ours))
                .count()
                == 0
        });
        if unused {
            if stage == ISOLATION_1 {
                let mut args = vec!["-t", "filter", "-D", stage];
                args.extend(DNAT_PASSES);
                run_ignoring_missing(&args).await?;
            }
            // Fails if another runner added a bridge meanwhile: then it stays, rightly.
            let _ = run(&["-t", "filter", "-X", stage]).await?;
        }
    }
    Ok(())
}

/// Removes every jump to the bridge's chains and the chains themselves; nothing is left
/// when it returns, and running it again (or for a network that never had rules) is fine.
pub(crate) async fn remove(bridge: &str) -> Result<()> {
    let chain = chain_name(bridge);
    for (table, builtin) in [("nat", "POSTROUTING"), ("filter", "FORWARD")] {
        let listing = iptables(&["-t", table, "-S", builtin]).await?;
        for line in listing.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            // Only rules that jump to our chain, written as berth writes them (no quoted
            // comments, so splitting on whitespace gives the arguments back exactly).
            if words.first() != Some(&"-A") || !words.ends_with(&["-j", chain.as_str()]) {
                continue;
            }
            if line.contains('"') {
                continue;
            }
            let mut args = vec!["-t", table, "-D"];
            args.extend(&words[1..]);
            run_ignoring_missing(&args).await?;
        }
        if chain_exists(table, &chain).await? {
            iptables(&["-t", table, "-F", &chain]).await?;
            iptables(&["-t", table, "-X", &chain]).await?;
        }
    }
    // Its chains are gone now, and with them the `filter` jump to the port chain.
    crate::dnat::remove(bridge).await?;
    remove_isolation(bridge).await
}

pub(crate) async fn ensure_chain(table: &str, chain: &str) -> Result<()> {
    if !chain_exists(table, chain).await? {
        match iptables(&["-t", table, "-N", chain]).await {
            Ok(_) => {}
            // A concurrent `ensure` of the same network made it first.
            Err(_) if chain_exists(table, chain).await? => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub(crate) async fn chain_exists(table: &str, chain: &str) -> Result<bool> {
    Ok(run(&["-t", table, "-n", "-L", chain]).await?.0)
}

/// Adds a rule unless an identical one is there; `first` inserts it at the top.
pub(crate) async fn ensure_rule(
    table: &str,
    chain: &str,
    rule: &[&str],
    first: bool,
) -> Result<()> {
    let mut check = vec!["-t", table, "-C", chain];
    check.extend(rule);
    if run(&check).await?.0 {
        return Ok(());
    }
    let mut add = vec!["-t", table];
    if first {
        add.extend(["-I", chain, "1"]);
    } else {
        add.extend(["-A", chain]);
    }
    add.extend(rule);
    iptables(&add).await.map(drop)
}

pub(crate) async fn run_ignoring_missing(args: &[&str]) -> Result<()> {
    match run(args).await? {
        (true, _) => Ok(()),
        (false, stderr) if is_missing(&stderr) => Ok(()),
        (false, stderr) => Err(NetworkError::Iptables {
            args: args.join(" "),
            stderr,
        }),
    }
}

fn is_missing(stderr: &str) -> bool {
    stderr.contains("does a matching rule exist")
        || stderr.contains("No chain/target/match")
        || stderr.contains("does not exist")
}

/// Runs iptables and returns stdout, or an error with its stderr.
pub(crate) async fn iptables(args: &[&str]) -> Result<String> {
    let output = spawn(args).await?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(NetworkError::Iptables {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// Runs iptables and returns its stdout, or `None` when it failed: for listings of
/// chains that may be gone.
async fn run_output(args: &[&str]) -> Result<Option<String>> {
    let output = spawn(args).await?;
    Ok(output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned()))
}

/// Runs iptables and returns (success, stderr): for checks, where failing is an answer.
async fn run(args: &[&str]) -> Result<(bool, String)> {
    let output = spawn(args).await?;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    Ok((output.status.success(), stderr))
}

/// Exit status 4 means "resource problem": another iptables held the lock (legacy) or
/// committed first (nft). Both go away by trying again.
async fn spawn(args: &[&str]) -> Result<std::process::Output> {
    const TRIES: u32 = 5;
    let mut attempt = 1;
    loop {
        debug!(args = %args.join(" "), "iptables");
        let output = Command::new("iptables")
            .arg("-w")
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| NetworkError::IptablesMissing { source })?;
        if output.status.code() != Some(4) || attempt == TRIES {
            return Ok(output);
        }
        tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
        attempt += 1;
    }
}
