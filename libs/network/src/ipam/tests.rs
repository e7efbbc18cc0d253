use std::net::Ipv4Addr;

use super::*;

fn ipam(subnet: &str) -> Ipam {
    Ipam::new(subnet.parse().unwrap(), None).unwrap()
}

#[test]
fn hands_out_host_addresses_in_order_skipping_the_gateway() {
    let mut ipam = ipam("10.213.1.0/24");
    assert_eq!(ipam.gateway(), Ipv4Addr::new(10, 213, 1, 1));
    assert_eq!(ipam.allocate().unwrap(), Ipv4Addr::new(10, 213, 1, 2));
    assert_eq!(ipam.allocate().unwrap(), Ipv4Addr::new(10, 213, 1, 3));
    assert!(ipam.is_allocated(Ipv4Addr::new(10, 213, 1, 3)));
}

#[test]
fn never_hands_out_network_gateway_or_broadcast_and_reports_exhaustion() {
    // A /29 has 6 host addresses: 1 gateway + 5 for containers.
    let mut ipam = ipam("10.213.2.0/29");
    let got: Vec<_> = (0..5).map(|_| ipam.allocate().unwrap()).collect();
    let want: Vec<_> = (2..=6).map(|d| Ipv4Addr::new(10, 213, 2, d)).collect();
    assert_eq!(got, want);
    let err = ipam.allocate().unwrap_err();
    assert!(
        matches!(err, NetworkError::AddressesExhausted { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("larger subnet"), "{err}");
}

#[test]
fn released_addresses_are_reused_after_the_others() {
    let mut ipam = ipam("10.213.3.0/29");
    for _ in 0..5 {
        ipam.allocate().unwrap();
    }
    assert!(ipam.release(Ipv4Addr::new(10, 213, 3, 4)));
    assert!(
        !ipam.release(Ipv4Addr::new(10, 213, 3, 4)),
        "released twice"
    );
    assert_eq!(ipam.allocate().unwrap(), Ipv4Addr::new(10, 213, 3, 4));
}

#[test]
fn allocation_is_serial_so_a_released_address_is_not_reused_at_once() {
    let mut pool = ipam("10.213.3.0/29");
    let first = pool.allocate().unwrap();
    pool.allocate().unwrap();
    pool.release(first);
    assert_eq!(pool.allocate().unwrap(), Ipv4Addr::new(10, 213, 3, 4));
}

#[test]
fn specific_addresses_are_checked() {
    let mut ipam = ipam("10.213.4.0/24");
    ipam.allocate_specific(Ipv4Addr::new(10, 213, 4, 50))
        .unwrap();
    let cases = [
        (Ipv4Addr::new(10, 213, 4, 50), "already in use"),
        (Ipv4Addr::new(10, 213, 4, 1), "gateway"),
        (Ipv4Addr::new(10, 213, 4, 0), "network"),
        (Ipv4Addr::new(10, 213, 4, 255), "broadcast"),
        (Ipv4Addr::new(10, 213, 5, 9), "not in the network's subnet"),
    ];
    for (ip, words) in cases {
        let err = ipam.allocate_specific(ip).unwrap_err().to_string();
        assert!(err.contains(words), "{ip}: {err}");
    }
    // The serial cursor skips addresses taken by hand.
    ipam.allocate_specific(Ipv4Addr::new(10, 213, 4, 2))
        .unwrap();
    assert_eq!(ipam.allocate().unwrap(), Ipv4Addr::new(10, 213, 4, 3));
}

#[test]
fn a_custom_gateway_is_honoured() {
    let subnet = "10.213.6.0/24".parse().unwrap();
    let mut ipam = Ipam::new(subnet, Some(Ipv4Addr::new(10, 213, 6, 254))).unwrap();
    assert_eq!(ipam.allocate().unwrap(), Ipv4Addr::new(10, 213, 6, 1));
    assert!(Ipam::new(subnet, Some(Ipv4Addr::new(10, 213, 6, 255))).is_err());
    assert!(Ipam::new(subnet, Some(Ipv4Addr::new(10, 9, 6, 1))).is_err());
}

#[test]
fn state_survives_a_serde_round_trip() {
    let mut ipam = ipam("10.213.7.0/24");
    for _ in 0..3 {
        ipam.allocate().unwrap();
    }
    ipam.release(Ipv4Addr::new(10, 213, 7, 3));
    let json = serde_json::to_string(&ipam).unwrap();
    let mut back: Ipam = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ipam);
    // The cursor survived too: the next address continues after .4.
    assert_eq!(back.allocate().unwrap(), Ipv4Addr::new(10, 213, 7, 5));
}

#[test]
fn a_tampered_state_is_refused() {
    let json = r#"{"subnet":"10.213.8.0/24","gateway":"10.213.8.1","allocated":["10.213.9.2"]}"#;
    let err = serde_json::from_str::<Ipam>(json).unwrap_err().to_string();
    assert!(err.contains("not in the network's subnet"), "{err}");
    let json = r#"{"subnet":"10.213.8.0/24","gateway":"10.213.8.1","allocated":["10.213.8.1"]}"#;
    assert!(serde_json::from_str::<Ipam>(json).is_err());
}
