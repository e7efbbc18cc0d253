//! Published ports through kernel forwarding (issue #9, finding 4): a client on another
//! host reaches a published port through DNAT, and the container sees the client's own
//! address, which the userland proxy would replace by the bridge's gateway; loopback
//! still goes through the proxy; no rule outlives the container, the network or berthd.
//!
//! The "other host" is a network namespace of the test's own, joined to the host by a
//! veth pair with addresses from 10.218.0.0/16; it is removed on drop. The container runs
//! busybox httpd with a CGI script that prints `REMOTE_ADDR`.
//! Needs root, iproute2, iptables, curl, the docker CLI and Debian's busybox-static.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

use berth_testkit::{Berthd, docker_ok, eventually, require_tool};

/// Runs a command and returns (success, stdout + stderr).
fn run(program: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn must(program: &str, args: &[&str]) -> String {
    let (ok, text) = run(program, args);
    assert!(ok, "{program} {} failed: {text}", args.join(" "));
    text
}

/// A client outside the host: its own network namespace, reached from the host through
/// a veth pair (`host_ip` on the host end, `client_ip` inside).
struct RemoteClient {
    netns: String,
    host_link: String,
    host_ip: Ipv4Addr,
    client_ip: Ipv4Addr,
}

impl RemoteClient {
    fn new() -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let tag = format!("{:05x}{:x}", pid & 0xfffff, n & 0xf);
        let octet = ((pid * 4 + n) % 250) as u8;
        let client = Self {
            netns: format!("berth-rc{tag}"),
            host_link: format!("rc{tag}"),
            host_ip: Ipv4Addr::new(10, 218, octet, 1),
            client_ip: Ipv4Addr::new(10, 218, octet, 2),
        };
        // A killed earlier run with the same pid may have left them.
        client.remove();
        must("ip", &["netns", "add", &client.netns]);
        must(
            "ip",
            &[
                "link",
                "add",
                &client.host_link,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &client.netns,
            ],
        );
        let host_cidr = format!("{}/24", client.host_ip);
        let client_cidr = format!("{}/24", client.client_ip);
        must("ip", &["addr", "add", &host_cidr, "dev", &client.host_link]);
        must("ip", &["link", "set", &client.host_link, "up"]);
        let ns = client.netns.as_str();
        must(
            "ip",
            &["-n", ns, "addr", "add", &client_cidr, "dev", "eth0"],
        );
        must("ip", &["-n", ns, "link", "set", "eth0", "up"]);
        must("ip", &["-n", ns, "link", "set", "lo", "up"]);
        client
    }

    /// `GET url` from inside the client's namespace: the body, or `None` on any error.
    fn get(&self, url: &str) -> Option<String> {
        let (ok, body) = run(
            "ip",
            &[
                "netns",
                "exec",
                &self.netns,
                "curl",
                "-sf",
                "--max-time",
                "5",
                url,
            ],
        );
        ok.then(|| body.trim().to_owned())
    }

    fn remove(&self) {
        let _ = run("ip", &["netns", "del", &self.netns]);
        let _ = run("ip", &["link", "del", &self.host_link]);
    }
}

impl Drop for RemoteClient {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A container whose port 80 answers `GET /cgi-bin/peer` with `peer=<client address>`.
const PEER_SERVER: &str = "mkdir -p /www/cgi-bin && \
    printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho peer=$REMOTE_ADDR\\n' \
    > /www/cgi-bin/peer && chmod +x /www/cgi-bin/peer && exec httpd -f -p 80 -h /www";

fn run_peer_server(host: &str, network: Option<&str>) -> String {
    let mut args = vec!["run", "-d", "-p", "80"];
    if let Some(network) = network {
        args.extend(["--network", network]);
    }
    args.extend(["busybox", "sh", "-c", PEER_SERVER]);
    docker_ok(host, &args).trim().to_owned()
}

/// The host port published for the container's port 80 on every address.
fn host_port(host: &str, id: &str) -> u16 {
    let out = docker_ok(host, &["port", id, "80/tcp"]);
    let first = out.lines().next().unwrap_or_default();
    let port = first.rsplit(':').next().unwrap_or_default();
    port.parse()
        .unwrap_or_else(|e| panic!("docker port said {out:?}: {e}"))
}

fn container_ip(host: &str, id: &str) -> Ipv4Addr {
    let out = docker_ok(
        host,
        &[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            id,
        ],
    );
    out.trim()
        .parse()
        .unwrap_or_else(|e| panic!("container address {out:?}: {e}"))
}

fn iptables_save() -> String {
    let mut all = must("iptables-save", &["-t", "nat"]);
    all.push_str(&must("iptables-save", &["-t", "filter"]));
    all
}

/// The rules that mention `needle`, for assertions and their messages.
fn rules_mentioning(needle: &str) -> Vec<String> {
    iptables_save()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// The rules that lead to the container at `ip`.
fn rules_for_container(ip: Ipv4Addr) -> Vec<String> {
    let (to, dst) = (format!("{ip}:"), format!("{ip}/32"));
    iptables_save()
        .lines()
        .filter(|l| l.contains(&to) || l.contains(&dst))
        .map(str::to_owned)
        .collect()
}

/// httpd listens on IPv6 and writes IPv4 clients as `[::ffff:a.b.c.d]`: `peer=a.b.c.d`.
fn peer(body: &str) -> String {
    let body = body.trim();
    match body
        .strip_prefix("peer=[::ffff:")
        .and_then(|rest| rest.strip_suffix(']'))
    {
        Some(ip) => format!("peer={ip}"),
        None => body.to_owned(),
    }
}

/// Waits until the remote client gets an answer and returns it.
fn remote_answer(client: &RemoteClient, port: u16) -> String {
    let url = format!("http://{}:{port}/cgi-bin/peer", client.host_ip);
    let body = eventually(
        "the remote client reaches the published port",
        Duration::from_secs(30),
        || client.get(&url).filter(|body| body.starts_with("peer=")),
    );
    peer(&body)
}

fn tools() {
    require_tool("curl", "curl");
    require_tool("iptables-save", "iptables");
    require_tool("ip", "iproute2");
}

#[test]
fn a_remote_client_reaches_a_published_port_with_its_own_address() {
    tools();
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let bridge = berthd.bridge().to_owned();
    let client = RemoteClient::new();
    let id = run_peer_server(&host, None);
    let port = host_port(&host, &id);
    let ip = container_ip(&host, &id);

    // Through the proxy the container would see the bridge's gateway.
    let answer = remote_answer(&client, port);
    assert_eq!(
        answer,
        format!("peer={}", client.client_ip),
        "the container did not see the remote client's address: {:#?}",
        rules_for_container(ip)
    );

    // Loopback is never DNATed: the proxy answers it.
    let local = eventually(
        "the published port answers on 127.0.0.1",
        Duration::from_secs(30),
        || {
            let (ok, body) = run(
                "curl",
                &[
                    "-sf",
                    "--max-time",
                    "5",
                    &format!("http://127.0.0.1:{port}/cgi-bin/peer"),
                ],
            );
            ok.then(|| peer(&body))
        },
    );
    assert!(local.starts_with("peer="), "{local}");
    assert_ne!(local, format!("peer={}", client.client_ip));

    docker_ok(&host, &["rm", "-f", &id]);
    let left = rules_for_container(ip);
    assert!(left.is_empty(), "rules outlived the container: {left:#?}");
    let url = format!("http://{}:{port}/cgi-bin/peer", client.host_ip);
    assert_eq!(client.get(&url), None, "the port still answers after rm");

    drop(berthd);
    let left = rules_mentioning(&bridge);
    assert!(left.is_empty(), "rules outlived berthd: {left:#?}");
}

#[test]
fn user_defined_networks_forward_again_after_a_restart_and_clean_up() {
    tools();
    let mut berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let client = RemoteClient::new();
    let network = format!("dnat-{}", std::process::id());
    let network_id = docker_ok(&host, &["network", "create", &network]);
    let bridge = format!("br-{}", &network_id.trim()[..12]);
    let id = run_peer_server(&host, Some(&network));
    let port = host_port(&host, &id);
    let ip = container_ip(&host, &id);
    let expected = format!("peer={}", client.client_ip);
    assert_eq!(remote_answer(&client, port), expected);

    // A killed berthd cannot remove its rules; the new one starts from empty chains and
    // forwards the re-adopted container's port again.
    berthd.crash_and_restart();
    let host = berthd.docker_host();
    docker_ok(&host, &["inspect", &id]);
    assert_eq!(
        remote_answer(&client, port),
        expected,
        "after a restart: {:#?}",
        rules_for_container(ip)
    );

    // A container on another network reaches the port through a host address, as it
    // did through the proxy, although the networks are isolated from each other.
    let request = format!(
        "printf 'GET /cgi-bin/peer HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {} {port}",
        client.host_ip
    );
    let across = berth_testkit::docker(&host, &["run", "--rm", "busybox", "sh", "-c", &request]);
    let text = berth_testkit::printed(&across);
    assert!(
        across.status.success() && text.contains("peer="),
        "{:?} {text}\n{}\n{}",
        across.status,
        must("iptables", &["-w", "-t", "nat", "-L", "-v", "-n"]),
        must("iptables", &["-w", "-L", "-v", "-n"])
    );

    docker_ok(&host, &["network", "disconnect", &network, &id]);
    let left = rules_for_container(ip);
    assert!(left.is_empty(), "rules outlived disconnect: {left:#?}");

    docker_ok(&host, &["rm", "-f", &id]);
    docker_ok(&host, &["network", "rm", &network]);
    let left = rules_mentioning(&bridge);
    assert!(left.is_empty(), "rules outlived the network: {left:#?}");
}
