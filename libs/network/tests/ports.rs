//! Published ports against the real kernel (root): echo servers inside a container's
//! namespace, reached from the host through the userland proxy.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_network::{
    BridgeNetwork, Endpoint, NetworkError, PortForward, PortSpec, Protocol, ProxyOptions,
};
use support::{Fixture, tcp_echo_in, udp_echo_in};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

/// These tests free ports and check them closed, and pick "free" ports for others: run in
/// parallel, one test could take the port another just released. One at a time, then.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A network with one attached container namespace.
async fn container(fx: &mut Fixture) -> (BridgeNetwork, Endpoint, PathBuf) {
    let net = BridgeNetwork::ensure(fx.config()).await.unwrap();
    let ns = fx.netns("c");
    let ip = net.new_ipam().allocate().unwrap();
    let endpoint = net.attach(&ns, ip).await.unwrap();
    (net, endpoint, ns)
}

/// A host port that was free a moment ago.
fn free_port(protocol: Protocol) -> u16 {
    match protocol {
        Protocol::Tcp => std::net::TcpListener::bind((LOCALHOST, 0))
            .unwrap()
            .local_addr(),
        Protocol::Udp => std::net::UdpSocket::bind((LOCALHOST, 0))
            .unwrap()
            .local_addr(),
    }
    .unwrap()
    .port()
}

/// Sends `message` over TCP to `addr` and returns (what the server saw, the echo).
async fn tcp_exchange(addr: SocketAddr, message: &str) -> (String, String) {
    let mut stream = timeout(Duration::from_secs(3), TcpStream::connect(addr))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.write_all(message.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut text = String::new();
    timeout(Duration::from_secs(3), stream.read_to_string(&mut text))
        .await
        .expect("read timed out")
        .unwrap();
    let (seen, echoed) = text.split_once('\n').expect("a first line");
    (seen.to_string(), echoed.to_string())
}

/// Sends `message` to `addr` and returns the reply. UDP may drop a datagram (the first
/// one to a new container can wait on ARP, or be dropped while the path comes up), so
/// the message is sent again, on the same socket and so the same flow, when no reply
/// comes within a second; three silences fail the test.
async fn udp_exchange(socket: &UdpSocket, addr: SocketAddr, message: &str) -> String {
    let mut buf = [0u8; 2048];
    for _ in 0..3 {
        socket.send_to(message.as_bytes(), addr).await.unwrap();
        if let Ok(received) = timeout(Duration::from_secs(1), socket.recv_from(&mut buf)).await {
            let (n, from) = received.unwrap();
            assert_eq!(from, addr, "the reply comes from the published address");
            return String::from_utf8_lossy(&buf[..n]).into_owned();
        }
    }
    panic!("no UDP reply from {addr} to three sends of {message:?}");
}

#[tokio::test]
async fn tcp_port_published_on_localhost_echoes() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut fx = Fixture::new("tcp_port_published_on_localhost_echoes");
    let (net, endpoint, ns) = container(&mut fx).await;
    tcp_echo_in(&ns, 8080).await;
    let port = free_port(Protocol::Tcp);
    let spec: PortSpec = format!("127.0.0.1:{port}:8080").parse().unwrap();
    let forward = PortForward::start(&spec, IpAddr::V4(endpoint.ip))
        .await
        .unwrap();
    assert_eq!(forward.local_addr(), SocketAddr::new(LOCALHOST, port));
    assert_eq!(
        forward.target(),
        SocketAddr::new(IpAddr::V4(endpoint.ip), 8080)
    );

    let (seen, echoed) = tcp_exchange(forward.local_addr(), "hello through the proxy").await;
    assert_eq!(echoed, "hello through the proxy");
    // The container sees the proxy, which connects from the gateway, as docker-proxy does.
    assert!(seen.starts_with(&format!("{}:", net.gateway())), "{seen}");
}

#[tokio::test]
async fn random_host_port_is_reported_and_reachable_on_host_addresses() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut fx = Fixture::new("random_host_port_is_reported_and_reachable_on_host_addresses");
    let (net, endpoint, ns) = container(&mut fx).await;
    tcp_echo_in(&ns, 80).await;
    let forward = PortForward::start(
        &PortSpec::random(80, Protocol::Tcp),
        IpAddr::V4(endpoint.ip),
    )
    .await
    .unwrap();
    let port = forward.host_port();
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let bounds: Vec<u16> = range
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        (bounds[0]..=bounds[1]).contains(&port),
        "{port} not in {range}"
    );
    assert!(forward.local_addr().ip().is_unspecified());

    // On loopback and on another address of the host (the test bridge's own).
    for host in [LOCALHOST, IpAddr::V4(net.gateway())] {
        let (_, echoed) = tcp_exchange(SocketAddr::new(host, port), "any address").await;
        assert_eq!(echoed, "any address", "via {host}");
    }
}

#[tokio::test]
async fn udp_port_published_on_localhost_echoes() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut fx = Fixture::new("udp_port_published_on_localhost_echoes");
    let (_net, endpoint, ns) = container(&mut fx).await;
    udp_echo_in(&ns, 5353).await;
    let port = free_port(Protocol::Udp);
    let spec: PortSpec = format!("127.0.0.1:{port}:5353/udp").parse().unwrap();
    let forward = PortForward::start(&spec, IpAddr::V4(endpoint.ip))
        .await
        .unwrap();

    // Two clients get separate flows: each reply goes back to its sender.
    let one = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let two = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let reply_one = udp_exchange(&one, forward.local_addr(), "one").await;
    let reply_two = udp_exchange(&two, forward.local_addr(), "two").await;
    assert!(reply_one.ends_with(" one"), "{reply_one}");
    assert!(reply_two.ends_with(" two"), "{reply_two}");
    let flow = |reply: &str| reply.split(' ').next().unwrap().to_string();
    assert_ne!(flow(&reply_one), flow(&reply_two), "one flow per client");
    // The same client keeps its flow.
    assert_eq!(
        flow(&udp_exchange(&one, forward.local_addr(), "again").await),
        flow(&reply_one)
    );
}

#[tokio::test]
async fn udp_flows_expire_after_the_idle_timeout() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut fx = Fixture::new("udp_flows_expire_after_the_idle_timeout");
    let (_net, endpoint, ns) = container(&mut fx).await;
    udp_echo_in(&ns, 5354).await;
    let options = ProxyOptions {
        udp_idle_timeout: Duration::from_millis(200),
        ..ProxyOptions::default()
    };
    let spec = PortSpec {
        host_ip: Some(LOCALHOST),
        ..PortSpec::random(5354, Protocol::Udp)
    };
    let forward = PortForward::start_with(&spec, IpAddr::V4(endpoint.ip), options)
        .await
        .unwrap();
    let client = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let first = udp_exchange(&client, forward.local_addr(), "a").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let second = udp_exchange(&client, forward.local_addr(), "b").await;
    let flow = |reply: &str| reply.split(' ').next().unwrap().to_string();
    assert_ne!(
        flow(&first),
        flow(&second),
        "the idle flow was replaced by a new one"
    );
}

#[tokio::test]
async fn dropping_a_forward_closes_the_port() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut fx = Fixture::new("dropping_a_forward_closes_the_port");
    let (_net, endpoint, ns) = container(&mut fx).await;
    tcp_echo_in(&ns, 8081).await;
    let spec = PortSpec {
        host_ip: Some(LOCALHOST),
        ..PortSpec::random(8081, Protocol::Tcp)
    };

    // stop(): closed as soon as it returns, open connections included.
    let forward = PortForward::start(&spec, IpAddr::V4(endpoint.ip))
        .await
        .unwrap();
    let addr = forward.local_addr();
    let mut open = TcpStream::connect(addr).await.unwrap();
    let mut line = [0u8; 1];
    open.read_exact(&mut line).await.unwrap();
    forward.stop().await;
    let refused = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    let mut rest = Vec::new();
    let closed = timeout(Duration::from_secs(3), open.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the proxied connection was closed");

    // drop: closed by the runtime's next turn.
    let forward = PortForward::start(&spec, IpAddr::V4(endpoint.ip))
        .await
        .unwrap();
    let addr = forward.local_addr();
    TcpStream::connect(addr).await.unwrap();
    drop(forward);
    let deadline = Instant::now() + Duration::from_secs(2);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "{addr} still open after drop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_taken_host_port_is_refused_with_advice() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let taken = std::net::TcpListener::bind((LOCALHOST, 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let spec: PortSpec = format!("127.0.0.1:{port}:80").parse().unwrap();
    // No container is needed: binding fails first. The target is never contacted.
    let err = PortForward::start(&spec, LOCALHOST).await.unwrap_err();
    assert!(matches!(err, NetworkError::PortBind { .. }), "{err}");
    assert!(err.to_string().contains("pick another host port"), "{err}");
}
