//! Bridge networks against the real kernel (root): create, attach two namespaces that
//! talk to each other, detach, delete, and check that nothing is left behind.

mod support;

use std::net::{IpAddr, SocketAddr};

use berth_network::{
    AttachOptions, BridgeConfig, BridgeNetwork, Ipv4Subnet, NetworkError, bring_up_loopback,
    run_in_netns,
};
use support::{Fixture, link_exists, must, rules_mentioning, run, tcp_echo_in, tcp_exchange_from};

#[tokio::test]
async fn two_containers_on_a_bridge_reach_each_other_and_cleanup_is_complete() {
    let mut fx =
        Fixture::new("two_containers_on_a_bridge_reach_each_other_and_cleanup_is_complete");
    let net = BridgeNetwork::ensure(fx.config()).await.unwrap();
    let mut ipam = net.new_ipam();
    let (a, b) = (fx.netns("a"), fx.netns("b"));
    let ea = net.attach(&a, ipam.allocate().unwrap()).await.unwrap();
    let eb = net.attach(&b, ipam.allocate().unwrap()).await.unwrap();
    assert!(
        ea.host_ifname.starts_with("veth") && ea.host_ifname.len() == 12,
        "{ea:?}"
    );
    assert_ne!(ea.host_ifname, eb.host_ifname);

    // The host end hangs off the bridge; inside: eth0 with Docker's MAC, the address,
    // and the default route via the gateway.
    let host_end = must("ip", &["-d", "link", "show", "dev", &ea.host_ifname]);
    assert!(
        host_end.contains(&format!("master {}", fx.bridge)),
        "{host_end}"
    );
    let a_name = Fixture::netns_name(&a);
    let eth0 = must("ip", &["-n", &a_name, "addr", "show", "dev", "eth0"]);
    assert!(eth0.contains(&ea.mac.to_string()), "{eth0}");
    assert!(eth0.contains(&format!("inet {}/24", ea.ip)), "{eth0}");
    let routes = must("ip", &["-n", &a_name, "route"]);
    assert!(
        routes.contains(&format!("default via {} dev eth0", net.gateway())),
        "{routes}"
    );

    // a -> b over the bridge, with no NAT in between.
    tcp_echo_in(&b, 7000).await;
    let (seen, echoed) =
        tcp_exchange_from(&a, SocketAddr::new(IpAddr::V4(eb.ip), 7000), "ping").await;
    assert_eq!(echoed, "ping");
    assert!(seen.starts_with(&format!("{}:", ea.ip)), "b saw {seen}");
    // And the gateway (the host) is reachable from a container.
    let gateway_ok = run_in_netns(&a, {
        let gw = net.gateway();
        move || {
            std::net::TcpStream::connect_timeout(&(gw, 9).into(), std::time::Duration::from_secs(2))
        }
    })
    .await
    .unwrap();
    // Nothing listens on port 9: a refusal proves the gateway answered.
    assert_eq!(
        gateway_ok.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );

    // Detach removes the pair (twice is fine); the address goes back to the pool.
    net.detach(&ea).await.unwrap();
    assert!(!link_exists(&ea.host_ifname));
    assert!(!run("ip", &["-n", &a_name, "link", "show", "dev", "eth0"]).0);
    net.detach(&ea).await.unwrap();
    assert!(ipam.release(ea.ip));

    // Delete removes the bridge, the veths still on it (b's), and every rule berth added.
    assert!(
        !rules_mentioning(&fx.bridge).is_empty(),
        "rules were installed"
    );
    net.delete().await.unwrap();
    assert!(!link_exists(&fx.bridge));
    assert!(!link_exists(&eb.host_ifname));
    assert_eq!(rules_mentioning(&fx.bridge), Vec::<String>::new());
    // Deleting what is gone is fine.
    berth_network::delete_bridge_network(&fx.bridge)
        .await
        .unwrap();
}

#[tokio::test]
async fn ensure_is_idempotent_and_refuses_a_mismatched_address() {
    let fx = Fixture::new("ensure_is_idempotent_and_refuses_a_mismatched_address");
    BridgeNetwork::ensure(fx.config()).await.unwrap();
    let first = rules_mentioning(&fx.bridge);
    BridgeNetwork::ensure(fx.config()).await.unwrap();
    assert_eq!(rules_mentioning(&fx.bridge), first, "nothing added twice");
    let jumps = first
        .iter()
        .filter(|l| l.contains("-A POSTROUTING") || l.contains("-A FORWARD"));
    assert_eq!(jumps.count(), 2, "{first:#?}");
    assert!(
        first.iter().any(|l| l.contains(&format!(
            "-s {} ! -o {} -j MASQUERADE",
            fx.subnet(),
            fx.bridge
        ))),
        "{first:#?}"
    );

    // The same bridge name with another subnet: an error that says what to do.
    let other: Ipv4Subnet = "10.213.250.0/24".parse().unwrap();
    let err = BridgeNetwork::ensure(BridgeConfig::new(fx.bridge.clone(), other))
        .await
        .unwrap_err();
    assert!(
        matches!(err, NetworkError::BridgeAddressMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("ip link del"), "{err}");
}

#[tokio::test]
async fn loopback_comes_up_for_network_none() {
    let mut fx = Fixture::new("loopback_comes_up_for_network_none");
    let ns = fx.netns("none");
    let name = Fixture::netns_name(&ns);
    assert!(!must("ip", &["-n", &name, "link", "show", "lo"]).contains(",UP"));
    bring_up_loopback(&ns).await.unwrap();
    assert!(must("ip", &["-n", &name, "link", "show", "lo"]).contains(",UP"));
    tcp_echo_in(&ns, 7001).await;
    let (_, echoed) = tcp_exchange_from(&ns, "127.0.0.1:7001".parse().unwrap(), "lo").await;
    assert_eq!(echoed, "lo");
}

#[tokio::test]
async fn a_failed_attach_leaves_no_veth_behind() {
    let mut fx = Fixture::new("a_failed_attach_leaves_no_veth_behind");
    let net = BridgeNetwork::ensure(fx.config()).await.unwrap();
    let mut ipam = net.new_ipam();
    let ns = fx.netns("c");
    net.attach(&ns, ipam.allocate().unwrap()).await.unwrap();
    let ports = || {
        // One line per link with -o.
        must("ip", &["-o", "link", "show", "master", &fx.bridge])
            .lines()
            .count()
    };
    let before = ports();

    // eth0 is taken in that namespace: refused, and no half-made pair stays.
    let err = net.attach(&ns, ipam.allocate().unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("eth0"), "{err}");
    assert_eq!(ports(), before);

    // A second network interface works under another name, without a second default
    // route.
    let second = AttachOptions {
        ifname: "eth1".into(),
        default_route: false,
    };
    let e1 = net
        .attach_with(&ns, ipam.allocate().unwrap(), &second)
        .await
        .unwrap();
    assert_eq!(e1.ifname, "eth1");
    let routes = must("ip", &["-n", &Fixture::netns_name(&ns), "route"]);
    assert_eq!(routes.matches("default").count(), 1, "{routes}");

    // An address outside the subnet and a namespace that does not exist: clear errors.
    let err = net
        .attach(&ns, "10.99.0.2".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, NetworkError::AddressOutsideSubnet { .. }),
        "{err}"
    );
    let err = net.attach(&ns, net.gateway()).await.unwrap_err();
    assert!(err.to_string().contains("gateway"), "{err}");
    let gone = std::path::Path::new("/run/netns/berth-no-such-namespace");
    let err = net
        .attach(gone, ipam.allocate().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, NetworkError::Namespace { .. }), "{err}");
    assert_eq!(ports(), before + 1);
}
