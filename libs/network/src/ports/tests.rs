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
