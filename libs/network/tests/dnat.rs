//! Published ports through the kernel (root): a client in an "outside" namespace (behind
//! its own veth pair, as another host would be) reaches echo servers inside a container
//! namespace through DNAT and is seen there with its own address; loopback clients go
//! through the proxy; stopping the forward leaves no rule for the container.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use berth_network::{BridgeNetwork, PortForward, PortSpec, run_in_netns};
use support::{Fixture, rules_mentioning, tcp_echo_in, tcp_exchange_from, udp_echo_in};

/// Sends one datagram from inside `netns` to `addr` and returns the reply.
async fn udp_exchange_from(netns: &std::path::Path, addr: SocketAddr, message: &str) -> String {
    let message = message.to_owned();
    run_in_netns(netns, move || {
        let socket = UdpSocket::bind(("0.0.0.0", 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        socket.send_to(message.as_bytes(), addr).unwrap();
        let mut buf = [0u8; 2048];
        let (n, _) = socket
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("no reply from {addr}: {e}"));
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn other_hosts_reach_published_ports_with_their_own_address() {
    let mut fx = Fixture::new("other_hosts_reach_published_ports_with_their_own_address");
    let net = BridgeNetwork::ensure(fx.config()).await.unwrap();
    let ns = fx.netns("c");
    let ip = net.new_ipam().allocate().unwrap();
    let endpoint = net.attach(&ns, ip).await.unwrap();
    let (outside, host_ip, outside_ip) = fx.outside();
    tcp_echo_in(&ns, 7300).await;
    udp_echo_in(&ns, 7301).await;

    let tcp_spec: PortSpec = "7300".parse().unwrap();
    let udp_spec: PortSpec = "7301/udp".parse().unwrap();
    let tcp = PortForward::start_on_bridge(&tcp_spec, endpoint.ip, net.config())
        .await
        .unwrap();
    let udp = PortForward::start_on_bridge(&udp_spec, endpoint.ip, net.config())
        .await
        .unwrap();

    // Through the proxy the servers would see the bridge's gateway.
    let remote = SocketAddr::new(IpAddr::V4(host_ip), tcp.host_port());
    let (seen, echoed) = tcp_exchange_from(&outside, remote, "tcp").await;
    assert_eq!(echoed, "tcp");
    assert!(
        seen.starts_with(&format!("{outside_ip}:")),
        "the container saw {seen}, not the client {outside_ip}: {:#?}",
        rules_mentioning(&fx.bridge)
    );
    let remote = SocketAddr::new(IpAddr::V4(host_ip), udp.host_port());
    let reply = udp_exchange_from(&outside, remote, "udp").await;
    assert!(
        reply.starts_with(&format!("{outside_ip}:")) && reply.ends_with(" udp"),
        "the container answered {reply:?}, not to the client {outside_ip}"
    );

    // Loopback is never DNATed: the proxy relays it, from the gateway.
    let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), tcp.host_port());
    let (seen, echoed) = tcp_exchange_from(&own_netns(), local, "lo").await;
    assert_eq!(echoed, "lo");
    assert!(seen.starts_with(&format!("{}:", net.gateway())), "{seen}");

    tcp.stop().await;
    udp.stop().await;
    let container = endpoint.ip.to_string();
    let left: Vec<String> = rules_mentioning(&fx.bridge)
        .into_iter()
        .filter(|rule| rule.contains(&container))
        .collect();
    assert!(left.is_empty(), "rules outlived the forwards: {left:#?}");

    net.delete().await.unwrap();
    assert_eq!(rules_mentioning(&fx.bridge), Vec::<String>::new());
}

/// The test's own network namespace (the host's), to connect from it as from the
/// outside one.
fn own_netns() -> std::path::PathBuf {
    format!("/proc/{}/ns/net", std::process::id()).into()
}
