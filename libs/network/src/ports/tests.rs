use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;

fn parse(text: &str) -> PortSpec {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn parses_the_forms_the_docker_cli_accepts() {
    let localhost = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let cases = [
        ("80", None, None, 80, Protocol::Tcp),
        ("8080:80", None, Some(8080), 80, Protocol::Tcp),
        (
            "127.0.0.1:8080:80",
            localhost,
            Some(8080),
            80,
            Protocol::Tcp,
        ),
        ("127.0.0.1::80", localhost, None, 80, Protocol::Tcp),
        ("53:53/udp", None, Some(53), 53, Protocol::Udp),
        ("0:80/tcp", None, None, 80, Protocol::Tcp),
        (
            "[::1]:8080:80",
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            Some(8080),
            80,
            Protocol::Tcp,
        ),
        (
            "[::1]::80/udp",
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            None,
            80,
            Protocol::Udp,
        ),
    ];
    for (text, host_ip, host_port, container_port, protocol) in cases {
        let want = PortSpec {
            host_ip,
            host_port,
            container_port,
            protocol,
        };
        assert_eq!(parse(text), want, "{text}");
        // Display gives a form that parses back to the same thing.
        assert_eq!(parse(&want.to_string()), want, "{text} -> {want}");
    }
}

#[test]
fn refuses_what_it_cannot_publish_and_says_why() {
    let cases = [
        ("", "container port"),
        ("0", "container port"),
        ("70000", "container port"),
        ("8080:http", "container port"),
        ("x:80", "host port"),
        ("80/sctp", "SCTP"),
        ("80/icmp", "tcp or udp"),
        ("8000-8010:80-90", "ranges"),
        ("::1:8080:80", "brackets"),
        ("host:8080:80", "not an IP"),
        ("[::1]8080:80", "followed by ':'"),
    ];
    for (text, words) in cases {
        let err = text.parse::<PortSpec>().unwrap_err().to_string();
        assert!(err.contains(words), "{text}: {err}");
        assert!(
            err.contains("[HOST_IP:][HOST_PORT:]CONTAINER_PORT"),
            "{text}: {err}"
        );
    }
}

#[test]
fn random_ports_bind_port_zero_on_every_address() {
    let spec = PortSpec::random(80, Protocol::Udp);
    assert_eq!(spec.host_addr().to_string(), "0.0.0.0:0");
    assert_eq!(spec.to_string(), "80/udp");
}

/// An echo server on loopback standing in for a container; returns its port.
async fn echo_server() -> u16 {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = conn.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    port
}

async fn tcp_forward(options: ProxyOptions) -> PortForward {
    let spec = PortSpec {
        host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ..PortSpec::random(echo_server().await, Protocol::Tcp)
    };
    PortForward::start_with(&spec, IpAddr::V4(Ipv4Addr::LOCALHOST), options)
        .await
        .unwrap()
}

/// Sends `text` through `conn` and reads it back; `None` when the proxy closed it.
async fn echo(conn: &mut tokio::net::TcpStream, text: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let _ = conn.write_all(text.as_bytes()).await;
    let mut buf = vec![0u8; text.len()];
    let read = tokio::time::timeout(Duration::from_secs(5), conn.read_exact(&mut buf))
        .await
        .expect("the proxy neither answered nor closed");
    read.ok()
        .map(|_| String::from_utf8_lossy(&buf).into_owned())
}

#[tokio::test]
async fn tcp_clients_past_the_per_port_bound_are_closed_at_once() {
    let forward = tcp_forward(ProxyOptions {
        tcp_max_connections: 2,
        ..ProxyOptions::builtin()
    })
    .await;
    let addr = forward.local_addr();
    let mut held = Vec::new();
    for i in 0..2 {
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert_eq!(
            echo(&mut conn, &format!("hi{i}")).await.as_deref(),
            Some(&*format!("hi{i}"))
        );
        held.push(conn);
    }
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        echo(&mut third, "no room").await,
        None,
        "closed past the bound"
    );

    // A slot freed is a slot for the next client.
    drop(held.pop());
    let mut next = None;
    for _ in 0..100 {
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        if echo(&mut conn, "again").await.is_some() {
            next = Some(conn);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(next.is_some(), "a freed slot was never reused");
}

#[tokio::test]
async fn idle_tcp_connections_are_closed_and_busy_ones_kept() {
    let idle = Duration::from_millis(300);
    let forward = tcp_forward(ProxyOptions {
        tcp_idle_timeout: idle,
        ..ProxyOptions::builtin()
    })
    .await;
    let started = std::time::Instant::now();
    let mut quiet = tokio::net::TcpStream::connect(forward.local_addr())
        .await
        .unwrap();
    let mut busy = tokio::net::TcpStream::connect(forward.local_addr())
        .await
        .unwrap();
    assert!(echo(&mut quiet, "x").await.is_some());
    // The busy one talks more often than the timeout, for longer than it.
    for _ in 0..8 {
        assert!(
            echo(&mut busy, "y").await.is_some(),
            "a busy connection was closed"
        );
        tokio::time::sleep(idle / 3).await;
    }
    assert!(started.elapsed() > idle * 2);
    assert_eq!(
        echo(&mut quiet, "late").await,
        None,
        "the idle connection was closed"
    );
}
