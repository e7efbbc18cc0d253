//! Test fixtures that make real kernel objects and always take them down again.
//!
//! Each test gets its own bridge (`bt<8 hex>`), its own /24 from 10.213.<n>.0/24 (and
//! 10.214.<n>.0/24 for an "outside" link) with `n` derived from the test's name, and its
//! own network namespaces. [`Fixture`]'s `Drop` removes all of it — namespaces, links,
//! berth's iptables chains — even when the test panics, using `ip`/`iptables` directly
//! rather than the code under test. Traffic only ever goes to addresses inside these
//! namespaces and on these links.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_network::{BridgeConfig, Ipv4Subnet, run_in_netns};

/// Runs a command and returns (success, stdout + stderr).
pub fn run(program: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (install iproute2 and iptables)"));
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// Runs a command that must succeed and returns its output.
pub fn must(program: &str, args: &[&str]) -> String {
    let (ok, text) = run(program, args);
    assert!(ok, "{program} {} failed: {text}", args.join(" "));
    text
}

/// Everything one test creates.
pub struct Fixture {
    /// The test's bridge name.
    pub bridge: String,
    /// The third octet of the test's subnets.
    pub octet: u8,
    netns: Vec<String>,
    links: Vec<String>,
}

impl Fixture {
    pub fn new(test_name: &str) -> Self {
        assert!(
            nix::unistd::geteuid().is_root(),
            "berth-network's kernel tests create bridges and namespaces: run them as root"
        );
        let octet = octet_for(test_name);
        remove_leftovers(octet);
        Self {
            bridge: format!("bt{}", random_hex()),
            octet,
            netns: Vec::new(),
            links: Vec::new(),
        }
    }

    /// The test's bridge subnet, 10.213.<n>.0/24.
    pub fn subnet(&self) -> Ipv4Subnet {
        Ipv4Subnet::new(Ipv4Addr::new(10, 213, self.octet, 0), 24).unwrap()
    }

    /// The config of the test's bridge network.
    pub fn config(&self) -> BridgeConfig {
        BridgeConfig::new(self.bridge.clone(), self.subnet())
    }

    /// A new network namespace (`ip netns add`), removed on drop; returns its file.
    pub fn netns(&mut self, label: &str) -> PathBuf {
        let name = format!("{}-{label}", self.bridge);
        must("ip", &["netns", "add", &name]);
        self.netns.push(name.clone());
        PathBuf::from("/run/netns").join(name)
    }

    /// The name of a namespace made by [`netns`](Self::netns), for `ip -n`.
    pub fn netns_name(path: &Path) -> String {
        path.file_name().unwrap().to_string_lossy().into_owned()
    }

    /// A host link to delete on drop.
    pub fn track_link(&mut self, name: &str) {
        self.links.push(name.to_string());
    }

    /// An "outside" namespace that is not on the bridge: a veth pair from the host
    /// (10.214.<n>.1/24 on the host end) to the namespace (10.214.<n>.2/24).
    /// Returns (namespace file, host address, outside address).
    pub fn outside(&mut self) -> (PathBuf, Ipv4Addr, Ipv4Addr) {
        let ns = self.netns("out");
        let ns_name = Self::netns_name(&ns);
        let host_end = format!("bo{}", &self.bridge[2..]);
        let host_ip = Ipv4Addr::new(10, 214, self.octet, 1);
        let outside_ip = Ipv4Addr::new(10, 214, self.octet, 2);
        must(
            "ip",
            &[
                "link", "add", &host_end, "type", "veth", "peer", "name", "eth0", "netns", &ns_name,
            ],
        );
        self.track_link(&host_end);
        must(
            "ip",
            &["addr", "add", &format!("{host_ip}/24"), "dev", &host_end],
        );
        must("ip", &["link", "set", &host_end, "up"]);
        must(
            "ip",
            &[
                "-n",
                &ns_name,
                "addr",
                "add",
                &format!("{outside_ip}/24"),
                "dev",
                "eth0",
            ],
        );
        must("ip", &["-n", &ns_name, "link", "set", "eth0", "up"]);
        must("ip", &["-n", &ns_name, "link", "set", "lo", "up"]);
        (ns, host_ip, outside_ip)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for name in &self.netns {
            run("ip", &["netns", "del", name]);
        }
        for link in &self.links {
            run("ip", &["link", "del", link]);
        }
        run("ip", &["link", "del", &self.bridge]);
        remove_chains(&self.bridge);
    }
}

/// A run that was killed (not just failed) could not clean up; its bridge would still
/// hold this test's subnet. Only links named like this module's (`bt…`, `bo…`) that
/// carry an address of this test's subnets are touched.
fn remove_leftovers(octet: u8) {
    for subnet in [
        format!("10.213.{octet}.0/24"),
        format!("10.214.{octet}.0/24"),
    ] {
        let (_, text) = run("ip", &["-o", "addr", "show", "to", &subnet]);
        for line in text.lines() {
            let Some(name) = line.split_whitespace().nth(1) else {
                continue;
            };
            let Some(hex) = name.strip_prefix("bt").or_else(|| name.strip_prefix("bo")) else {
                continue;
            };
            let bridge = format!("bt{hex}");
            let (_, namespaces) = run("ip", &["netns", "list"]);
            for ns in namespaces
                .lines()
                .filter_map(|l| l.split_whitespace().next())
            {
                if ns.starts_with(&format!("{bridge}-")) {
                    run("ip", &["netns", "del", ns]);
                }
            }
            let (_, ports) = run("ip", &["-o", "link", "show", "master", &bridge]);
            for port in ports.lines().filter_map(|l| l.split_whitespace().nth(1)) {
                run(
                    "ip",
                    &[
                        "link",
                        "del",
                        port.trim_end_matches(':').split('@').next().unwrap(),
                    ],
                );
            }
            run("ip", &["link", "del", name]);
            remove_chains(&bridge);
        }
    }
}

/// Removes the jumps to `BERTH-<bridge>` and the chains, in nat and filter.
fn remove_chains(bridge: &str) {
    let chain = format!("BERTH-{bridge}");
    for (table, builtin) in [("nat", "POSTROUTING"), ("filter", "FORWARD")] {
        let (_, listing) = run("iptables", &["-w", "-t", table, "-S", builtin]);
        for line in listing
            .lines()
            .filter(|l| l.ends_with(&format!("-j {chain}")))
        {
            let mut args = vec!["-w", "-t", table, "-D"];
            args.extend(line.split_whitespace().skip(1));
            run("iptables", &args);
        }
        run("iptables", &["-w", "-t", table, "-F", &chain]);
        run("iptables", &["-w", "-t", table, "-X", &chain]);
    }
    let stage_one = ["-i", bridge, "!", "-o", bridge, "-j", "BERTH-ISOLATION-2"];
    run(
        "iptables",
        &[&["-w", "-D", "BERTH-ISOLATION-1"][..], &stage_one].concat(),
    );
    run(
        "iptables",
        &["-w", "-D", "BERTH-ISOLATION-2", "-o", bridge, "-j", "DROP"],
    );
    // Fails while another bridge still uses them, as it should.
    let (_, stage_one) = run("iptables", &["-w", "-S", "BERTH-ISOLATION-1"]);
    if stage_one.lines().count() <= 2 {
        let passes = ["-m", "conntrack", "--ctstate", "DNAT", "-j", "RETURN"];
        run(
            "iptables",
            &[&["-w", "-D", "BERTH-ISOLATION-1"][..], &passes].concat(),
        );
    }
    run("iptables", &["-w", "-X", "BERTH-ISOLATION-1"]);
    run("iptables", &["-w", "-X", "BERTH-ISOLATION-2"]);
    // The published-port chains, once the bridge's own filter chain no longer jumps there.
    let ports = format!("BERTH-DNAT-{bridge}");
    for builtin in ["PREROUTING", "OUTPUT"] {
        let (_, listing) = run("iptables", &["-w", "-t", "nat", "-S", builtin]);
        for line in listing
            .lines()
            .filter(|l| l.ends_with(&format!("-j {ports}")))
        {
            let mut args = vec!["-w", "-t", "nat", "-D"];
            args.extend(line.split_whitespace().skip(1));
            run("iptables", &args);
        }
    }
    for table in ["nat", "filter"] {
        run("iptables", &["-w", "-t", table, "-F", &ports]);
        run("iptables", &["-w", "-t", table, "-X", &ports]);
    }
}

/// The lines of `iptables -S` (both tables) that mention the test's chains.
pub fn rules_mentioning(bridge: &str) -> Vec<String> {
    let chain = format!("BERTH-{bridge}");
    let ports = format!("BERTH-DNAT-{bridge}");
    ["nat", "filter"]
        .iter()
        .flat_map(|table| {
            let (_, text) = run("iptables", &["-w", "-t", table, "-S"]);
            text.lines()
                .filter(|l| l.contains(&chain) || l.contains(&ports))
                .map(|l| format!("{table}: {l}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether a host link exists.
pub fn link_exists(name: &str) -> bool {
    run("ip", &["link", "show", "dev", name]).0
}

/// 10.213.<n>.0/24 for a test: FNV-1a of its name, in 20..=219. Distinct for the tests of
/// this crate (checked when they were written); rename a test if two ever collide.
pub fn octet_for(test_name: &str) -> u8 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in test_name.bytes() {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    20 + (hash % 200) as u8
}

fn random_hex() -> String {
    let mut bytes = [0u8; 4];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A TCP server inside `netns` on 0.0.0.0:`port` that, per connection, writes the
/// client's address as seen there (`IP:PORT\n`) and then echoes everything back.
pub async fn tcp_echo_in(netns: &Path, port: u16) {
    let listener = run_in_netns(netns, move || TcpListener::bind(("0.0.0.0", port)))
        .await
        .unwrap()
        .unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let peer = stream.peer_addr().unwrap();
                let _ = writeln!(stream, "{peer}");
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
}

/// A UDP server inside `netns` on 0.0.0.0:`port` that answers each datagram with
/// `<client IP:PORT> <datagram>`.
pub async fn udp_echo_in(netns: &Path, port: u16) {
    let socket = run_in_netns(netns, move || UdpSocket::bind(("0.0.0.0", port)))
        .await
        .unwrap()
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let mut reply = format!("{peer} ").into_bytes();
            reply.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&reply, peer);
        }
    });
}

/// Connects from inside `netns` to `addr`, sends `message`, and returns (the address the
/// server saw, the echoed message).
pub async fn tcp_exchange_from(netns: &Path, addr: SocketAddr, message: &str) -> (String, String) {
    let message = message.to_string();
    run_in_netns(netns, move || {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
            .unwrap_or_else(|e| panic!("connect to {addr} from the namespace: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        stream.write_all(message.as_bytes()).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let (seen, echoed) = text
            .split_once('\n')
            .expect("the server sends a line first");
        (seen.to_string(), echoed.to_string())
    })
    .await
    .unwrap()
}
