//! A small netlink client over `rtnetlink`: links, addresses and routes, in the host's
//! namespace or in a container's.
//!
//! Why netlink (rtnetlink) and not `ip` commands: these calls run for every container
//! start, where spawning several processes would cost milliseconds each; netlink gives
//! typed errors (`EEXIST`, `ENODEV`) instead of parsing text; and a veth can be created
//! with its peer already inside the container's namespace and named `eth0` in one atomic
//! request, so a half-made pair never shows up in the host namespace. `rtnetlink` is the
//! maintained tokio netlink crate (rust-netlink); `neli` would need hand-built messages.
//! (Firewall rules are a different story: see `nat`.)
//!
//! A connection must never outlive its use: the socket is tied to the namespace it was
//! opened in, and the background task is aborted when [`Netlink`] is dropped.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use futures::TryStreamExt;
use nix::errno::Errno;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};
use tokio::task::JoinHandle;

use crate::error::{NetworkError, Result};
use crate::netns::run_in_netns;

/// An open netlink route socket and the task that drives it.
#[derive(Debug)]
pub(crate) struct Netlink {
    handle: Handle,
    driver: JoinHandle<()>,
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Netlink {
    /// A connection in the calling thread's namespace: the host's, for the runner.
    pub(crate) fn host() -> Result<Self> {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(|e| {
            NetworkError::netlink(
                "open a netlink socket",
                rtnetlink::Error::NamespaceError(e.to_string()),
            )
        })?;
        Ok(Self {
            handle,
            driver: tokio::spawn(connection),
        })
    }

    /// A connection inside the network namespace at `netns`.
    pub(crate) async fn inside(netns: &Path) -> Result<Self> {
        let runtime = tokio::runtime::Handle::current();
        let opened = run_in_netns(netns, move || {
            // The socket registers with this runtime's reactor; it stays in `netns`.
            let _entered = runtime.enter();
            rtnetlink::new_connection()
        })
        .await?;
        let (connection, handle, _) =
            opened.map_err(|source| NetworkError::NetlinkSocket { source })?;
        Ok(Self {
            handle,
            driver: tokio::spawn(connection),
        })
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The link called `name`, if there is one.
    pub(crate) async fn link(&self, name: &str) -> Result<Option<LinkMessage>> {
        let found = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute()
            .try_next()
            .await;
        match found {
            Ok(link) => Ok(link),
            Err(e) if is_errno(&e, Errno::ENODEV) => Ok(None),
            Err(e) => Err(NetworkError::netlink(format!("look up link {name}"), e)),
        }
    }

    /// The index of the link called `name`, or an error naming it.
    pub(crate) async fn require_index(&self, name: &str) -> Result<u32> {
        match self.link(name).await? {
            Some(link) => Ok(link.header.index),
            None => Err(NetworkError::LinkMissing { name: name.into() }),
        }
    }

    /// Every link of the namespace.
    pub(crate) async fn links(&self) -> Result<Vec<LinkMessage>> {
        self.handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| NetworkError::netlink("list links", e))
    }

    /// The links enslaved to the link with index `controller` (a bridge's ports).
    pub(crate) async fn ports_of(&self, controller: u32) -> Result<Vec<LinkMessage>> {
        let mut ports = self.links().await?;
        ports.retain(|link| {
            link.attributes
                .contains(&LinkAttribute::Controller(controller))
        });
        Ok(ports)
    }

    /// Brings a link up.
    pub(crate) async fn set_up(&self, index: u32, name: &str) -> Result<()> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(|e| NetworkError::netlink(format!("bring up {name}"), e))
    }

    /// Deletes the link called `name`; returns false when it was already gone.
    pub(crate) async fn delete_link(&self, name: &str) -> Result<bool> {
        let Some(link) = self.link(name).await? else {
            return Ok(false);
        };
        match self.handle.link().del(link.header.index).execute().await {
            Ok(()) => Ok(true),
            // Gone in between (its namespace died, or a concurrent delete): same outcome.
            Err(e) if is_errno(&e, Errno::ENODEV) => Ok(false),
            Err(e) => Err(NetworkError::netlink(format!("delete link {name}"), e)),
        }
    }

    /// The IPv4 addresses on a link, with their prefix lengths.
    pub(crate) async fn ipv4_addresses(&self, index: u32) -> Result<Vec<(Ipv4Addr, u8)>> {
        let mut stream = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute();
        let mut out = Vec::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| NetworkError::netlink("list addresses", e))?
        {
            for attr in &msg.attributes {
                if let AddressAttribute::Local(IpAddr::V4(ip)) = attr {
                    out.push((*ip, msg.header.prefix_len));
                }
            }
        }
        Ok(out)
    }

    /// Adds `ip/prefix_len` to a link.
    pub(crate) async fn add_address(&self, index: u32, ip: Ipv4Addr, prefix_len: u8) -> Result<()> {
        self.handle
            .address()
            .add(index, IpAddr::V4(ip), prefix_len)
            .execute()
            .await
            .map_err(|e| NetworkError::netlink(format!("add address {ip}/{prefix_len}"), e))
    }

    /// Adds the default route via `gateway` out of the link.
    pub(crate) async fn add_default_route(&self, index: u32, gateway: Ipv4Addr) -> Result<()> {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .output_interface(index)
            .gateway(gateway)
            .build();
        self.handle
            .route()
            .add(route)
            .execute()
            .await
            .map_err(|e| NetworkError::netlink(format!("add default route via {gateway}"), e))
    }
}

/// Whether a link is a bridge.
pub(crate) fn is_bridge(link: &LinkMessage) -> bool {
    has_kind(link, &InfoKind::Bridge)
}

/// Whether a link is one end of a veth pair.
pub(crate) fn is_veth(link: &LinkMessage) -> bool {
    has_kind(link, &InfoKind::Veth)
}

fn has_kind(link: &LinkMessage, kind: &InfoKind) -> bool {
    link.attributes.iter().any(|attr| match attr {
        LinkAttribute::LinkInfo(infos) => infos
            .iter()
            .any(|info| matches!(info, LinkInfo::Kind(k) if k == kind)),
        _ => false,
    })
}

/// The name of a link, as the kernel reported it.
pub(crate) fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|attr| match attr {
        LinkAttribute::IfName(name) => Some(name.as_str()),
        _ => None,
    })
}

/// Whether a netlink error carries `errno`.
pub(crate) fn is_errno(error: &rtnetlink::Error, errno: Errno) -> bool {
    match error {
        rtnetlink::Error::NetlinkError(msg) => msg.raw_code() == -(errno as i32),
        _ => false,
    }
}
