//! Outbound NAT against the real kernel (root): a container reaches a listener in a
//! namespace that is not on the bridge (the "outside", behind a second veth pair from
//! the host), and that listener sees the host's address, not the container's.

mod support;

use std::net::{IpAddr, SocketAddr};

use berth_network::BridgeNetwork;
use support::{Fixture, must, tcp_echo_in, tcp_exchange_from};

#[tokio::test]
async fn outbound_traffic_is_masqueraded_to_the_host_address() {
    let mut fx = Fixture::new("outbound_traffic_is_masqueraded_to_the_host_address");
    let net = BridgeNetwork::ensure(fx.config()).await.unwrap();
    let mut ipam = net.new_ipam();
    let container = fx.netns("c");
    let endpoint = net
        .attach(&container, ipam.allocate().unwrap())
        .await
        .unwrap();
    let (outside, host_ip, outside_ip) = fx.outside();

    tcp_echo_in(&outside, 7100).await;
    let target = SocketAddr::new(IpAddr::V4(outside_ip), 7100);
    let (seen, echoed) = tcp_exchange_from(&container, target, "out").await;
    assert_eq!(echoed, "out");
    assert!(
        seen.starts_with(&format!("{host_ip}:")),
        "the outside saw {seen}, not the host address {host_ip} (container {})",
        endpoint.ip
    );
    let chain = must(
        "iptables",
        &[
            "-w",
            "-t",
            "nat",
            "-S",
            &berth_network::chain_name(&fx.bridge),
        ],
    );
    assert!(chain.contains("MASQUERADE"), "{chain}");
}
