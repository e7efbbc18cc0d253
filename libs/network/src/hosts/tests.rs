use std::net::{IpAddr, Ipv4Addr};

use super::*;

fn ip(d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 213, 9, d))
}

#[test]
fn a_bridge_container_gets_dockers_localhost_lines_and_its_own() {
    let mut hosts = HostsFile::new();
    hosts.set_own(ip(2), &["4f1c2a7b9d0e"]).unwrap();
    assert_eq!(
        hosts.render(),
        "127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n\
         10.213.9.2\t4f1c2a7b9d0e\n"
    );
}

#[test]
fn none_network_has_only_localhost() {
    let text = HostsFile::new().render();
    assert!(text.starts_with("127.0.0.1\tlocalhost\n"));
    assert_eq!(text.lines().count(), 6);
}

#[test]
fn extra_hosts_come_before_the_own_line_and_peers_after() {
    let mut hosts = HostsFile::new();
    hosts.add_extra_host("db.example", ip(50)).unwrap();
    hosts.set_own(ip(2), &["web.corp", "web"]).unwrap();
    hosts
        .set_peer("redis", ip(4), &["cache", "5c0ffee12345"])
        .unwrap();
    hosts.set_peer("api", ip(3), &["api"]).unwrap();
    let text = hosts.render();
    let tail: Vec<&str> = text.lines().skip(6).collect();
    assert_eq!(
        tail,
        [
            "10.213.9.50\tdb.example",
            "10.213.9.2\tweb.corp web",
            "10.213.9.3\tapi",
            "10.213.9.4\tredis cache 5c0ffee12345",
        ]
    );
}

#[test]
fn peers_are_updated_as_containers_join_and_leave() {
    let mut hosts = HostsFile::new();
    hosts.set_own(ip(2), &["web"]).unwrap();
    hosts.set_peer("db", ip(3), &[]).unwrap();
    assert!(hosts.render().contains("10.213.9.3\tdb\n"));
    // db restarted with another address: replaced, not duplicated.
    hosts.set_peer("db", ip(7), &[]).unwrap();
    let text = hosts.render();
    assert!(
        text.contains("10.213.9.7\tdb\n") && !text.contains("10.213.9.3"),
        "{text}"
    );
    assert!(hosts.remove_peer("db"));
    assert!(!hosts.remove_peer("db"));
    assert!(!hosts.render().contains("db"));
}

#[test]
fn names_that_would_inject_lines_are_refused() {
    let mut hosts = HostsFile::new();
    for bad in ["", "a b", "evil\n1.2.3.4 bank", "x#y", "-x", "tab\tname"] {
        let err = hosts.set_peer(bad, ip(3), &[]).unwrap_err();
        assert!(
            matches!(err, NetworkError::InvalidHostname { .. }),
            "{bad:?}"
        );
        assert!(hosts.set_own(ip(2), &["ok", bad]).is_err(), "{bad:?}");
    }
    assert!(hosts.set_own(ip(2), &[]).is_err());
    assert_eq!(hosts, HostsFile::new(), "nothing was added");
}

#[test]
fn state_round_trips_through_serde() {
    let mut hosts = HostsFile::new();
    hosts.set_own(ip(2), &["web"]).unwrap();
    hosts.set_peer("db", ip(3), &["database"]).unwrap();
    let json = serde_json::to_string(&hosts).unwrap();
    let back: HostsFile = serde_json::from_str(&json).unwrap();
    assert_eq!(back.render(), hosts.render());
}
