//! Isolation against the real kernel (root): containers on two bridge networks cannot
//! reach each other through the host, as with Docker's user-defined networks, and an
//! internal network reaches nothing beyond its bridge. Finding a runner's bridges by
//! address is checked here too.

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use berth_network::{BridgeNetwork, Ipv4Subnet, bridges_within, run_in_netns};
use support::{Fixture, must, tcp_echo_in, tcp_exchange_from};

/// Whether a TCP connection from inside `netns` to `ip:port` is accepted within a second.
async fn connects(netns: &Path, ip: Ipv4Addr, port: u16) -> bool {
    let addr = SocketAddr::from((ip, port));
    run_in_netns(netns, move || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn bridges_are_isolated_from_each_other() {
    let mut fa = Fixture::new("bridges_are_isolated_from_each_other");
    let mut fb = Fixture::new("bridges_are_isolated_other_side");
    let na = BridgeNetwork::ensure(fa.config()).await.unwrap();
    let nb = BridgeNetwork::ensure(fb.config()).await.unwrap();
    let (a, a2, b) = (fa.netns("a"), fa.netns("a2"), fb.netns("b"));
    let mut ipam_a = na.new_ipam();
    let ea2 = na.attach(&a2, ipam_a.allocate().unwrap()).await.unwrap();
    na.attach(&a, ipam_a.allocate().unwrap()).await.unwrap();
    let eb = nb
        .attach(&b, nb.new_ipam().allocate().unwrap())
        .await
        .unwrap();
    tcp_echo_in(&b, 7200).await;
    tcp_echo_in(&a2, 7200).await;

    // Same bridge: fine. Across bridges: the host routes between them, and the isolation
    // rules drop it, whichever bridge's chain the kernel looks at first.
    let (_, echoed) = tcp_exchange_from(&a, SocketAddr::from((ea2.ip, 7200)), "x").await;
    assert_eq!(echoed, "x");
    assert!(!connects(&a, eb.ip, 7200).await, "a reached b's network");
    assert!(!connects(&b, ea2.ip, 7200).await, "b reached a's network");
    let stage_two = must("iptables", &["-w", "-S", "BERTH-ISOLATION-2"]);
    assert!(
        stage_two.contains(&format!("-o {} -j DROP", fa.bridge)),
        "{stage_two}"
    );

    // Deleting a network takes its isolation rules with it.
    na.delete().await.unwrap();
    let stage_one = must("iptables", &["-w", "-S", "BERTH-ISOLATION-1"]);
    assert!(!stage_one.contains(&fa.bridge), "{stage_one}");
    assert!(stage_one.contains(&fb.bridge), "{stage_one}");
    nb.delete().await.unwrap();
}

#[tokio::test]
async fn internal_bridges_reach_nothing_beyond_themselves() {
    let mut fx = Fixture::new("internal_bridges_reach_nothing_beyond_themselves");
    let mut config = fx.config();
    config.internal = true;
    let net = BridgeNetwork::ensure(config).await.unwrap();
    let mut ipam = net.new_ipam();
    let (c, peer) = (fx.netns("c"), fx.netns("p"));
    net.attach(&c, ipam.allocate().unwrap()).await.unwrap();
    let ep = net.attach(&peer, ipam.allocate().unwrap()).await.unwrap();
    let (outside, _, outside_ip) = fx.outside();
    tcp_echo_in(&outside, 7300).await;
    tcp_echo_in(&peer, 7300).await;

    assert!(connects(&c, ep.ip, 7300).await, "peers on the bridge talk");
    assert!(
        !connects(&c, outside_ip, 7300).await,
        "an internal network reached the outside"
    );
    let nat = must(
        "iptables",
        &[
            "-w",
            "-t",
            "nat",
            "-S",
            &berth_network::chain_name(&fx.bridge),
        ],
    );
    assert!(!nat.contains("MASQUERADE"), "{nat}");

    // The runner's cleanup finds the bridge by its address.
    let subnet: Ipv4Subnet = fx.subnet();
    assert_eq!(bridges_within(subnet).await.unwrap(), [fx.bridge.clone()]);
    net.delete().await.unwrap();
    assert!(bridges_within(subnet).await.unwrap().is_empty());
}
