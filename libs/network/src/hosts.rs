//! A container's `/etc/hosts`: Docker's localhost lines, `--add-host` entries, the
//! container's own address and hostname, and on user-defined networks the other
//! containers' names, kept up to date as they join and leave.
//!
//! Names are checked before they go in: a name with whitespace, `#` or a newline could
//! otherwise add lines of its own to the file. For `--network host` the runner gives the
//! container the host's own /etc/hosts instead (as Docker does); nothing here is needed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::{NetworkError, Result};

#[cfg(test)]
mod tests;

/// The lines every container gets, exactly as Docker writes them.
const LOCALHOST_LINES: &str = "127.0.0.1\tlocalhost\n\
::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\n\
ff00::0\tip6-mcastprefix\n\
ff02::1\tip6-allnodes\n\
ff02::2\tip6-allrouters\n";

/// One line of the file: an address and its names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEntry")]
pub struct HostsEntry {
    /// The address.
    pub ip: IpAddr,
    /// The names, first the canonical one.
    pub names: Vec<String>,
}

impl HostsEntry {
    /// An entry, with every name checked.
    pub fn new(ip: IpAddr, names: &[&str]) -> Result<Self> {
        if names.is_empty() {
            return Err(NetworkError::InvalidHostname {
                name: String::new(),
                reason: "an entry needs at least one name",
            });
        }
        for name in names {
            validate_hostname(name)?;
        }
        Ok(Self {
            ip,
            names: names.iter().map(|n| n.to_string()).collect(),
        })
    }
}

/// A persisted entry, checked again on load: a hand-edited state file must not be able
/// to inject lines either.
#[derive(Deserialize)]
struct RawEntry {
    ip: IpAddr,
    names: Vec<String>,
}

impl TryFrom<RawEntry> for HostsEntry {
    type Error = NetworkError;

    fn try_from(raw: RawEntry) -> Result<Self> {
        let names: Vec<&str> = raw.names.iter().map(String::as_str).collect();
        Self::new(raw.ip, &names)
    }
}

/// The contents of a container's /etc/hosts. Serialisable, so the runner can keep it
/// with the container and rewrite the file when a peer joins or leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostsFile {
    extra: Vec<HostsEntry>,
    own: Option<HostsEntry>,
    peers: BTreeMap<String, HostsEntry>,
}

impl HostsFile {
    /// Only the localhost lines: a container on `--network none` without a hostname line.
    pub fn new() -> Self {
        Self::default()
    }

    /// The container's own line: its address with its hostname (and aliases, e.g.
    /// `host.domain` before `host` when a domain name is set).
    pub fn set_own(&mut self, ip: IpAddr, names: &[&str]) -> Result<()> {
        self.own = Some(HostsEntry::new(ip, names)?);
        Ok(())
    }

    /// An `--add-host NAME:IP` line.
    pub fn add_extra_host(&mut self, name: &str, ip: IpAddr) -> Result<()> {
        self.extra.push(HostsEntry::new(ip, &[name])?);
        Ok(())
    }

    /// Adds or replaces another container's entry on a user-defined network, keyed by its
    /// container name; `aliases` are its network aliases and short ID.
    pub fn set_peer(&mut self, name: &str, ip: IpAddr, aliases: &[&str]) -> Result<()> {
        let mut names = vec![name];
        names.extend(aliases.iter().copied().filter(|a| *a != name));
        self.peers
            .insert(name.to_string(), HostsEntry::new(ip, &names)?);
        Ok(())
    }

    /// Drops another container's entry; returns whether there was one.
    pub fn remove_peer(&mut self, name: &str) -> bool {
        self.peers.remove(name).is_some()
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::from(LOCALHOST_LINES);
        let entries = self
            .extra
            .iter()
            .chain(&self.own)
            .chain(self.peers.values());
        for entry in entries {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{}\t{}", entry.ip, entry.names.join(" "));
        }
        out
    }
}

/// Checks a host name or alias for /etc/hosts (RFC 1123 letters, digits, `-`, `.`, plus
/// `_`, which Docker's container names allow).
pub fn validate_hostname(name: &str) -> Result<()> {
    let invalid = |reason| NetworkError::InvalidHostname {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() || name.len() > 253 {
        return Err(invalid("it must be 1 to 253 characters long"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(invalid("it contains a character a host name cannot have"));
    }
    if name.starts_with(['-', '.']) {
        return Err(invalid("it cannot start with '-' or '.'"));
    }
    Ok(())
}
