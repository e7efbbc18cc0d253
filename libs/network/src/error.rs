//! The one error type of berth's networking.
//!
//! Every message says what was wrong and what to do about it; the runner passes them to
//! the user as they are. Variants are matched by callers (an exhausted pool, a port in
//! use), so add a new variant rather than stretching an existing one.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::pool::SubnetPool;
use crate::ports::Protocol;
use crate::subnet::Ipv4Subnet;

/// Everything that can go wrong while setting up or tearing down container networking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// A subnet string could not be used.
    #[error("invalid subnet {input:?}: {reason}; write it as ADDRESS/PREFIX, e.g. 172.30.0.0/16")]
    InvalidSubnet {
        /// What was given.
        input: String,
        /// Why it was refused.
        reason: String,
    },

    /// A bridge (interface) name that Linux or iptables would refuse.
    #[error("invalid bridge name {name:?}: {reason}")]
    InvalidBridgeName {
        /// The name given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A subnet pool string could not be used.
    #[error(
        "invalid network pool {pool:?}: {reason}; write it as BASE/PREFIX[,size=N], \
         e.g. 10.210.0.0/16,size=24"
    )]
    InvalidPool {
        /// What was given.
        pool: String,
        /// Why it was refused.
        reason: String,
    },

    /// Every subnet of the pool overlaps a network or a host route.
    #[error(
        "could not find an available, non-overlapping IPv4 address pool among the defaults \
         to assign to the network ({pool}): remove unused networks (`docker network prune`), \
         pass --subnet, or give the runner a larger --network-pool"
    )]
    PoolExhausted {
        /// The pool.
        pool: SubnetPool,
    },

    /// Every address of the network is handed out.
    #[error(
        "no free address left in {subnet}: every address is in use; disconnect or remove a \
         container from this network, or create a network with a larger subnet"
    )]
    AddressesExhausted {
        /// The network's subnet.
        subnet: Ipv4Subnet,
    },

    /// A requested address is already handed out.
    #[error("address {ip} is already in use on this network; pick another address or none")]
    AddressInUse {
        /// The address asked for.
        ip: Ipv4Addr,
    },

    /// A requested address lies outside the network's subnet.
    #[error("address {ip} is not in the network's subnet {subnet}; pick an address inside it")]
    AddressOutsideSubnet {
        /// The address asked for.
        ip: Ipv4Addr,
        /// The network's subnet.
        subnet: Ipv4Subnet,
    },

    /// A requested address is the network, gateway or broadcast address.
    #[error("address {ip} is the {role} address of {subnet} and cannot be given to a container")]
    AddressReserved {
        /// The address asked for.
        ip: Ipv4Addr,
        /// `network`, `gateway` or `broadcast`.
        role: &'static str,
        /// The network's subnet.
        subnet: Ipv4Subnet,
    },

    /// The bridge exists but carries an address that does not match the configuration.
    #[error(
        "bridge {bridge} already exists with address {found}, not {wanted}; configure the \
         subnet it has, or delete it (`ip link del {bridge}`) if nothing else uses it"
    )]
    BridgeAddressMismatch {
        /// The bridge's name.
        bridge: String,
        /// What the bridge carries (`ADDRESS/PREFIX`).
        found: String,
        /// What the configuration asks for.
        wanted: String,
    },

    /// An interface of that name exists but is not a bridge.
    #[error("interface {name} exists and is not a bridge; choose another bridge name")]
    NotABridge {
        /// The interface's name.
        name: String,
    },

    /// A netlink request failed.
    #[error("{action} failed: {source}; berth needs root (CAP_NET_ADMIN) to configure networks")]
    Netlink {
        /// What berth tried to do, e.g. `create veth pair vethab12cd34`.
        action: String,
        /// The kernel's answer.
        #[source]
        source: rtnetlink::Error,
    },

    /// A link berth needs is not there.
    #[error(
        "network interface {name} does not exist; it may have been deleted by hand: \
         reconnect the container or recreate the network"
    )]
    LinkMissing {
        /// The interface's name.
        name: String,
    },

    /// No netlink socket could be opened.
    #[error("cannot open a netlink socket: {source}; berth must run on Linux as root")]
    NetlinkSocket {
        /// The socket error.
        #[source]
        source: io::Error,
    },

    /// A network namespace could not be entered or a thread inside it not run.
    #[error(
        "cannot use network namespace {path}: {source}; check that the container (or the \
         netns file) still exists and that berth runs as root"
    )]
    Namespace {
        /// The namespace file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The `iptables` command could not be run at all.
    #[error(
        "cannot run iptables: {source}; install it (Debian: `apt-get install iptables`) and \
         run berth as root"
    )]
    IptablesMissing {
        /// Why spawning failed.
        #[source]
        source: io::Error,
    },

    /// The `iptables` command ran and refused.
    #[error(
        "`iptables {args}` failed: {stderr}; check the host's firewall setup and that berth runs as root"
    )]
    Iptables {
        /// The arguments given.
        args: String,
        /// What iptables printed on stderr.
        stderr: String,
    },

    /// A kernel setting could not be changed.
    #[error("cannot write {path}: {source}; run berth as root, outside a read-only /proc/sys")]
    Sysctl {
        /// The /proc/sys file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A `--publish` value could not be parsed.
    #[error(
        "invalid port mapping {spec:?}: {reason}; write it as \
         [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]"
    )]
    InvalidPortSpec {
        /// What was given.
        spec: String,
        /// Why it was refused.
        reason: String,
    },

    /// The host side of a published port could not be bound.
    #[error(
        "cannot publish {protocol} port on {addr}: {source}; another program (or container) \
         may already use it: pick another host port"
    )]
    PortBind {
        /// The host address asked for.
        addr: SocketAddr,
        /// TCP or UDP.
        protocol: Protocol,
        /// The bind error.
        #[source]
        source: io::Error,
    },

    /// A host name that would break /etc/hosts.
    #[error("invalid host name {name:?}: {reason}; use letters, digits, '-', '_' and '.' only")]
    InvalidHostname {
        /// The name given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A DNS setting that would break resolv.conf.
    #[error("invalid DNS setting {value:?}: it must not contain whitespace or newlines")]
    InvalidDnsSetting {
        /// The value given.
        value: String,
    },

    /// An IP address that cannot be used where it was given.
    #[error("address {ip} cannot be used: {reason}")]
    UnusableAddress {
        /// The address.
        ip: IpAddr,
        /// Why.
        reason: &'static str,
    },

    /// A file (resolv.conf, hosts) could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    File {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// The result of every fallible function in this crate.
pub type Result<T, E = NetworkError> = std::result::Result<T, E>;

impl NetworkError {
    pub(crate) fn netlink(action: impl Into<String>, source: rtnetlink::Error) -> Self {
        Self::Netlink {
            action: action.into(),
            source,
        }
    }
}
