//! The containers as networks see them. Networks change only where a container is on
//! which network and which ports it publishes; the containers keep their records and
//! save these changes themselves, so this module needs nothing else of them.

use std::path::PathBuf;

use berth_network::PortSpec;

use super::{Membership, NetworkError};

/// A container's part in the networks.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: String,
    pub name: String,
    /// `HostConfig.NetworkMode` as Docker shows it.
    pub network_mode: String,
    /// The networks it is on, in joining order.
    pub networks: Vec<Membership>,
    /// The ports it asked to publish (`--publish`, `-P`).
    pub publish: Vec<PortSpec>,
    /// The ports published now, host ports filled in.
    pub ports: Vec<PortSpec>,
}

/// What networks need of the containers.
pub trait Members: Send + Sync {
    /// The container `text` names (ID, unique prefix or name).
    fn member(&self, text: &str) -> Result<Member, NetworkError>;
    /// Every container of this host.
    fn members(&self) -> Result<Vec<Member>, NetworkError>;
    /// Keeps `member`'s networks and ports.
    fn save(&self, member: &Member) -> Result<(), NetworkError>;
    /// The process of a container that runs, for its network namespace.
    fn live_pid(&self, id: &str) -> Option<i32>;
    /// The hostname the container was given.
    fn hostname(&self, id: &str) -> String;
    /// The directory of the container's engine files (`/etc/hosts` and friends).
    fn dir(&self, id: &str) -> PathBuf;
}
