//! Published ports against the API (issue #9, finding 4): idle connections to a
//! published port must not leave berthd without file descriptors for `docker version`.
//! berthd starts under the 1024 soft limit systemd and shells give; the test opens 2,000
//! idle connections to a container's published port and times one `docker version`.
//! Alone in its test binary, because it changes the process's own open-file limit.
//! Needs root, the docker CLI and Debian's busybox-static.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use berth_testkit::{Berthd, docker, docker_ok, eventually, printed};
use nix::sys::resource::{Resource, getrlimit, setrlimit};

const IDLE_CONNECTIONS: usize = 2000;

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn idle_connections_to_a_published_port_leave_the_api_answering() {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard >= 2 * IDLE_CONNECTIONS as u64 + 1024,
        "the hard open-file limit {hard} is too low for this test"
    );
    // berthd inherits the common default soft limit; the test then needs its own room.
    setrlimit(Resource::RLIMIT_NOFILE, 1024, hard).unwrap();
    let berthd = Berthd::start();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    let host = berthd.docker_host();
    let image = berth_testkit::busybox_archive(berthd.dir(), "busybox:latest");
    docker_ok(&host, &["load", "-i", &image.path.display().to_string()]);
    let id = docker_ok(
        &host,
        &[
            "run",
            "-d",
            "-p",
            "127.0.0.1::8080",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "8080",
            "-h",
            "/",
        ],
    );
    let port = docker_ok(&host, &["port", &id, "8080/tcp"]);
    let addr = port.trim().to_owned();
    let published: std::net::SocketAddr = addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}"));

    let before = open_fds(berthd.process.pid());
    let idle: Vec<TcpStream> = (0..IDLE_CONNECTIONS)
        .map(|i| {
            TcpStream::connect_timeout(&published, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("connection {i}: {e}"))
        })
        .collect();
    // The proxy holds two descriptors for each connection it relays (up to
    // --proxy-max-connections, 1024 by default, for one port): wait until it does.
    eventually(
        "berthd's proxy has taken the idle connections",
        Duration::from_secs(30),
        || (open_fds(berthd.process.pid()) >= before + 1900).then_some(()),
    );

    let started = Instant::now();
    let out = docker(&host, &["version", "--format", "{{.Server.APIVersion}}"]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", printed(&out));
    assert!(
        took < Duration::from_secs(1),
        "docker version took {took:?} with {IDLE_CONNECTIONS} idle connections open"
    );

    drop(idle);
    docker_ok(&host, &["ps", "-q"]);
    // The port still serves, once the idle clients are gone.
    let answer = eventually(
        "the published port serves a new client",
        Duration::from_secs(30),
        || {
            let mut conn = TcpStream::connect_timeout(&published, Duration::from_secs(5)).ok()?;
            conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            conn.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
            let mut answer = String::new();
            conn.read_to_string(&mut answer).ok()?;
            answer.starts_with("HTTP/1.").then_some(answer)
        },
    );
    assert!(answer.starts_with("HTTP/1."), "{answer}");
    docker_ok(&host, &["rm", "-f", &id]);
}
