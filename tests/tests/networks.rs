//! User-defined networks through the real docker CLI against berthd: create, ls, inspect,
//! rm, prune; containers finding each other by name and alias; isolation between
//! networks; connect and disconnect of running containers; published ports on a user
//! network; and networks surviving a crashed berthd. Needs root and Debian's
//! busybox-static. Each test's berthd has its own default bridge and its own /24 pool
//! for networks (`Berthd::network_pool`), and removes every bridge it made on drop.

use std::time::{Duration, Instant};

use berth_testkit::{Berthd, docker, docker_fails, docker_ok, printed};

/// A subnet inside the berthd's pool: `10.a.b.<offset>/<prefix>`.
fn subnet_in_pool(berthd: &Berthd, offset: u8, prefix: u8) -> String {
    let base = berthd.network_pool().trim_end_matches(".0/24");
    format!("{base}.{offset}/{prefix}")
}

/// Runs `check` until it returns true or `limit` passes: for servers that take a moment
/// to listen, never as a fixed sleep.
fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One ping of `target` (a name or address), from a throw-away container on `network` or,
/// with `network` `None`, from inside the running container `from`; returns success and
/// all it printed.
fn ping(host: &str, network: Option<&str>, from: &str, target: &str) -> (bool, String) {
    let mut args = match network {
        Some(network) => vec!["run", "--rm", "--network", network, "busybox"],
        None => vec!["exec", from],
    };
    args.extend(["ping", "-c", "1", "-W", "2", target]);
    let out = docker(host, &args);
    (out.status.success(), printed(&out))
}

/// A detached container on `network` that sleeps until it is removed.
fn sleeper(host: &str, name: &str, network: &str) {
    docker_ok(
        host,
        &[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            network,
            "busybox",
            "sleep",
            "300",
        ],
    );
}

/// The `n`th address of an IPv4 subnet written `a.b.c.d/len`.
fn host_in(subnet: &str, n: u32) -> String {
    let (network, _) = subnet.split_once('/').expect("a CIDR subnet");
    let base: std::net::Ipv4Addr = network.parse().expect("an IPv4 subnet");
    std::net::Ipv4Addr::from(u32::from(base) + n).to_string()
}

/// A busybox httpd serving its /etc (so `/hostname` names the container), detached.
fn web_server(host: &str, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend(extra);
    args.extend(["busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    docker_ok(host, &args)
}

/// What `wget` from a throw-away container on `network` fetches from `url`; retried while
/// the server comes up.
fn fetch_from(host: &str, network: &str, url: &str) -> Option<String> {
    let mut body = None;
    eventually(Duration::from_secs(10), || {
        let out = docker(
            host,
            &[
                "run",
                "--rm",
                "--network",
                network,
                "busybox",
                "wget",
                "-qO-",
                url,
            ],
        );
        if out.status.success() {
            body = Some(String::from_utf8_lossy(&out.stdout).trim().to_owned());
        }
        out.status.success()
    });
    body
}

#[test]
fn networks_are_created_listed_inspected_and_removed() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    // Docker's three predefined networks are there from the start.
    let names = docker_ok(
        &host,
        &["network", "ls", "--format", "{{.Name}} {{.Driver}}"],
    );
    for predefined in ["bridge bridge", "host host", "none null"] {
        assert!(names.lines().any(|l| l == predefined), "{names}");
    }

    let id = docker_ok(&host, &["network", "create", "--label", "team=a", "front"]);
    assert_eq!(id.len(), 64, "{id}");
    let subnet = docker_ok(
        &host,
        &[
            "network",
            "inspect",
            "front",
            "--format",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
        ],
    );
    let pool_prefix = berthd.network_pool().trim_end_matches("0/24");
    assert!(
        subnet.starts_with(pool_prefix) && subnet.ends_with("/28"),
        "{subnet} comes from the pool {}",
        berthd.network_pool()
    );
    // A Linux bridge named as Docker names them, with the gateway address.
    let bridge = format!("br-{}", &id[..12]);
    let link = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show", "dev", &bridge])
        .output()
        .unwrap();
    assert!(link.status.success(), "{}", printed(&link));

    let fixed = subnet_in_pool(&berthd, 224, 27);
    let gateway = host_in(&fixed, 30);
    docker_ok(
        &host,
        &[
            "network",
            "create",
            "--subnet",
            &fixed,
            "--gateway",
            &gateway,
            "--internal",
            "back",
        ],
    );
    let back = docker_ok(
        &host,
        &[
            "network",
            "inspect",
            "back",
            "--format",
            "{{.Internal}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
        ],
    );
    assert_eq!(back, format!("true {fixed} {gateway}"));

    // Filters: by label, by type; names are unique; overlapping subnets are refused.
    assert_eq!(
        docker_ok(
            &host,
            &[
                "network",
                "ls",
                "-q",
                "--filter",
                "label=team=a",
                "--no-trunc"
            ]
        ),
        id
    );
    let custom = docker_ok(
        &host,
        &[
            "network",
            "ls",
            "--filter",
            "type=custom",
            "--format",
            "{{.Name}}",
        ],
    );
    assert_eq!(custom.lines().collect::<Vec<_>>(), ["back", "front"]);
    let dup = docker_fails(&host, &["network", "create", "front"]);
    assert!(
        dup.contains("network with name front already exists"),
        "{dup}"
    );
    let overlap = docker_fails(
        &host,
        &[
            "network",
            "create",
            "--subnet",
            &subnet_in_pool(&berthd, 240, 28),
            "clash",
        ],
    );
    assert!(
        overlap.contains("overlaps") && overlap.contains("back"),
        "{overlap}"
    );
    let bad = docker_fails(
        &host,
        &["network", "create", "--subnet", "10.1.2.3/24", "typo"],
    );
    assert!(bad.contains("did you mean 10.1.2.0/24"), "{bad}");
    let predefined = docker_fails(&host, &["network", "rm", "bridge"]);
    assert!(predefined.contains("pre-defined network"), "{predefined}");

    docker_ok(&host, &["network", "rm", "front"]);
    assert!(
        !std::process::Command::new("ip")
            .args(["link", "show", "dev", &bridge])
            .output()
            .unwrap()
            .status
            .success()
    );
    let missing = docker_fails(&host, &["network", "inspect", "front"]);
    assert!(missing.contains("not found"), "{missing}");
    let pruned = docker_ok(&host, &["network", "prune", "-f"]);
    assert!(pruned.contains("back"), "{pruned}");
    let left = docker_ok(&host, &["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(left.lines().count(), 3, "{left}");
}

#[test]
fn containers_on_a_network_reach_each_other_by_name_and_alias_and_no_one_else_does() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(&host, &["network", "create", "app"]);
    docker_ok(&host, &["network", "create", "elsewhere"]);
    let id = web_server(
        &host,
        "web",
        &["--network", "app", "--network-alias", "www"],
    );

    // By container name and by alias, from a container that joins after the server.
    let by_name = fetch_from(&host, "app", "http://web/hostname");
    assert_eq!(by_name.as_deref(), Some(&id[..12]));
    let by_alias = fetch_from(&host, "app", "http://www/hostname");
    assert_eq!(by_alias.as_deref(), Some(&id[..12]));

    // And the other way: a container that was there first learns of a newcomer.
    sleeper(&host, "early", "app");
    sleeper(&host, "late", "app");
    let reply = ping(&host, None, "early", "late");
    assert!(reply.0, "{}", reply.1);

    // A container on another network neither resolves nor reaches them.
    let ip = docker_ok(
        &host,
        &[
            "inspect",
            "web",
            "--format",
            "{{.NetworkSettings.Networks.app.IPAddress}}",
        ],
    );
    let (_, out) = ping(&host, Some("elsewhere"), "", "web");
    assert!(
        out.contains("bad address 'web'"),
        "the name resolved elsewhere: {}",
        out
    );
    let (_, out) = ping(&host, Some("elsewhere"), "", &ip);
    assert!(
        out.contains("100% packet loss"),
        "another network reached {ip}: {}",
        out
    );
    // The default bridge does not resolve names either, as in Docker.
    let (_, out) = ping(&host, Some("bridge"), "", "web");
    assert!(out.contains("bad address 'web'"), "{}", out);

    // Inspect shows the endpoint; rm of a network in use is refused with Docker's words.
    let aliases = docker_ok(
        &host,
        &[
            "inspect",
            "web",
            "--format",
            "{{.NetworkSettings.Networks.app.Aliases}} {{.NetworkSettings.Networks.app.DNSNames}}",
        ],
    );
    assert_eq!(aliases, format!("[www] [web www {}]", &id[..12]));
    let members = docker_ok(
        &host,
        &[
            "network",
            "inspect",
            "app",
            "--format",
            "{{range .Containers}}{{.Name}} {{end}}",
        ],
    );
    assert!(
        members.contains("web") && members.contains("early"),
        "{members}"
    );
    let in_use = docker_fails(&host, &["network", "rm", "app"]);
    assert!(in_use.contains("has active endpoints"), "{in_use}");
    docker_ok(&host, &["rm", "-f", "web", "early", "late"]);
    docker_ok(&host, &["network", "rm", "app", "elsewhere"]);
}

#[test]
fn running_containers_are_connected_and_disconnected() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(&host, &["network", "create", "one"]);
    docker_ok(&host, &["network", "create", "two"]);
    sleeper(&host, "alpha", "one");
    sleeper(&host, "beta", "two");
    let not_yet = ping(&host, None, "alpha", "beta");
    assert!(not_yet.1.contains("bad address 'beta'"), "{}", not_yet.1);

    let two = docker_ok(
        &host,
        &[
            "network",
            "inspect",
            "two",
            "--format",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
        ],
    );
    let static_ip = host_in(&two, 9);
    docker_ok(
        &host,
        &[
            "network", "connect", "--alias", "side", "--ip", &static_ip, "two", "alpha",
        ],
    );
    let eth1 = docker_ok(
        &host,
        &[
            "exec", "alpha", "ip", "-o", "-4", "addr", "show", "dev", "eth1",
        ],
    );
    assert!(eth1.contains(&format!("inet {static_ip}/28")), "{eth1}");
    let reply = ping(&host, None, "alpha", "beta");
    assert!(reply.0, "{}", reply.1);
    let reply = ping(&host, None, "beta", "side");
    assert!(reply.0, "b finds a by its new alias: {}", reply.1);
    let networks = docker_ok(
        &host,
        &[
            "inspect",
            "alpha",
            "--format",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        ],
    );
    assert_eq!(networks, "one two");
    let twice = docker_fails(&host, &["network", "connect", "two", "alpha"]);
    assert!(twice.contains("already exists in network two"), "{twice}");

    docker_ok(&host, &["network", "disconnect", "two", "alpha"]);
    let gone = docker(&host, &["exec", "alpha", "ip", "link", "show", "eth1"]);
    assert!(!gone.status.success(), "eth1 left: {}", printed(&gone));
    let hosts = docker_ok(&host, &["exec", "beta", "cat", "/etc/hosts"]);
    assert!(
        !hosts.contains("side"),
        "b's /etc/hosts still names a: {hosts}"
    );
    let again = docker_fails(&host, &["network", "disconnect", "two", "alpha"]);
    assert!(again.contains("is not connected to network two"), "{again}");
    docker_ok(&host, &["rm", "-f", "alpha", "beta"]);
}

#[test]
fn published_ports_work_on_a_user_network() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(&host, &["network", "create", "pubnet"]);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let id = web_server(
        &host,
        "site",
        &["--network", "pubnet", "-p", &format!("127.0.0.1:{port}:80")],
    );
    let url = format!("http://127.0.0.1:{port}/hostname");
    let mut body = String::new();
    let served = eventually(Duration::from_secs(10), || {
        let out = std::process::Command::new("curl")
            .args(["-sf", "--max-time", "2", &url])
            .output()
            .unwrap();
        body = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        out.status.success()
    });
    assert!(served, "nothing answered on {url}");
    assert_eq!(body, &id[..12]);
    assert_eq!(
        docker_ok(&host, &["ps", "--format", "{{.Ports}} {{.Networks}}"]),
        format!("127.0.0.1:{port}->80/tcp pubnet")
    );
    docker_ok(&host, &["rm", "-f", "site"]);
}

#[test]
fn network_events_go_to_docker_events() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let since = berth_testkit::events_time(std::time::SystemTime::now());
    let id = docker_ok(&host, &["network", "create", "evnet"]);
    docker_ok(
        &host,
        &["run", "-d", "--name", "evc", "busybox", "sleep", "300"],
    );
    docker_ok(&host, &["network", "connect", "evnet", "evc"]);
    docker_ok(&host, &["network", "disconnect", "evnet", "evc"]);
    docker_ok(&host, &["network", "rm", "evnet"]);
    let until = berth_testkit::events_time(std::time::SystemTime::now());
    let network_filter = format!("network={id}");
    let events = berth_testkit::events_between(
        &host,
        &since,
        &until,
        &["type=network", &network_filter],
        "{{.Action}} {{.Actor.Attributes.name}}",
    );
    assert_eq!(
        events.lines().collect::<Vec<_>>(),
        [
            "create evnet",
            "connect evnet",
            "disconnect evnet",
            "destroy evnet"
        ]
    );
    docker_ok(&host, &["rm", "-f", "evc"]);
}

#[test]
fn networks_and_attachments_survive_a_crashed_berthd() {
    let mut berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let net_id = docker_ok(&host, &["network", "create", "keep"]);
    let id = web_server(
        &host,
        "kept",
        &["--network", "keep", "--network-alias", "svc"],
    );
    let before = docker_ok(
        &host,
        &[
            "inspect",
            "kept",
            "--format",
            "{{.NetworkSettings.Networks.keep.IPAddress}}",
        ],
    );

    berthd.crash_and_restart();

    assert_eq!(
        docker_ok(
            &host,
            &["network", "inspect", "keep", "--format", "{{.Id}}"]
        ),
        net_id
    );
    let after = docker_ok(
        &host,
        &[
            "inspect",
            "kept",
            "--format",
            "{{.NetworkSettings.Networks.keep.IPAddress}}",
        ],
    );
    assert_eq!(after, before);
    // Still reachable by alias; a new container gets a fresh address, not the kept one.
    assert_eq!(
        fetch_from(&host, "keep", "http://svc/hostname").as_deref(),
        Some(&id[..12])
    );
    sleeper(&host, "new", "keep");
    let new_ip = docker_ok(
        &host,
        &[
            "inspect",
            "new",
            "--format",
            "{{.NetworkSettings.Networks.keep.IPAddress}}",
        ],
    );
    assert_ne!(new_ip, before, "the address book survived the crash");
    let reply = ping(&host, None, "new", "kept");
    assert!(reply.0, "{}", reply.1);
    docker_ok(&host, &["rm", "-f", "kept", "new"]);
    docker_ok(&host, &["network", "rm", "keep"]);
}

#[test]
fn a_renamed_container_is_found_by_its_new_name() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(&host, &["network", "create", "names"]);
    sleeper(&host, "before", "names");
    sleeper(&host, "peer", "names");
    assert!(ping(&host, None, "peer", "before").0);
    docker_ok(&host, &["rename", "before", "after"]);
    // The peers' /etc/hosts is rewritten before the rename returns.
    let (found, shown) = ping(&host, None, "peer", "after");
    assert!(found, "{shown}");
    let (found, shown) = ping(&host, None, "peer", "before");
    assert!(!found, "the old name is gone: {shown}");
    docker_ok(&host, &["rm", "-f", "after", "peer"]);
    docker_ok(&host, &["network", "rm", "names"]);
}
