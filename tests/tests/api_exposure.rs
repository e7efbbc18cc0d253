//! The Docker API over TCP against whoever can reach it (issue #9, finding 5): with
//! `--tlsverify` only clients holding a certificate of the CA get in; a plain listener
//! beyond loopback is refused unless `--tls=false` says so; and a container never
//! reaches berthd's TCP listener through its bridge. Needs root, the docker CLI,
//! `openssl` (the test's CA: [`TestPki`]), `iptables` and Debian's busybox-static.

use std::io::Write as _;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::{Berthd, TestPki, binary, docker, docker_ok, printed, require_tool};

/// A port free on all addresses right now (the kernel's choice, then released).
fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn tlsverify_admits_only_clients_with_a_certificate_of_the_ca() {
    let pki = TestPki::new();
    let p = |name: &str| pki.arg(name);
    let port = free_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let _berthd = Berthd::start_with(&[
        "-H",
        &tcp,
        "--tlsverify",
        "--tlscacert",
        &p("ca.pem"),
        "--tlscert",
        &p("server.pem"),
        "--tlskey",
        &p("server-key.pem"),
    ]);

    let with = |cert: &str, key: &str| {
        docker(
            &tcp,
            &[
                "--tlsverify",
                "--tlscacert",
                &p("ca.pem"),
                "--tlscert",
                &p(cert),
                "--tlskey",
                &p(key),
                "version",
                "--format",
                "{{.Server.APIVersion}}",
            ],
        )
    };
    let out = with("client.pem", "client-key.pem");
    assert!(out.status.success(), "{}", printed(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).trim().is_empty());

    let out = docker(
        &tcp,
        &["--tlsverify", "--tlscacert", &p("ca.pem"), "version"],
    );
    assert!(
        !out.status.success(),
        "a client without a certificate got in: {}",
        printed(&out)
    );
    let out = with("rogue.pem", "rogue-key.pem");
    assert!(
        !out.status.success(),
        "a client with another CA's certificate got in: {}",
        printed(&out)
    );
    let out = docker(&tcp, &["version"]);
    assert!(
        !out.status.success(),
        "plain HTTP got in: {}",
        printed(&out)
    );
}

#[test]
fn a_plain_listener_beyond_loopback_is_refused_unless_tls_false() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("tcp://0.0.0.0:{}", free_port());
    let mut child = Command::new(binary("berthd"))
        .arg("--data-root")
        .arg(dir.path().join("root"))
        .args(["-H", &host])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A berthd that accepts the listener runs on: give it a deadline, never hang.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("berthd served {host} in plain HTTP");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains(&format!(
            "refusing to serve the Docker API on {host} without TLS"
        )) && stderr.contains("--tlsverify")
            && stderr.contains("--tls=false"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("root").exists(),
        "berthd refused before touching its data root"
    );
}

/// Serves one line to every client, for the control: a host port containers may reach.
fn greeter() -> u16 {
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            let _ = client.write_all(b"hello from the host\n");
        }
    });
    port
}

#[test]
fn containers_cannot_reach_the_api_through_their_bridge() {
    let api_port = free_port();
    let tcp = format!("tcp://0.0.0.0:{api_port}");
    let berthd = Berthd::start_with(&["-H", &tcp, "--tls=false"]);
    let host = berthd.docker_host();
    let image = berth_testkit::busybox_archive(berthd.dir(), "busybox:latest");
    docker_ok(&host, &["load", "-i", &image.path.display().to_string()]);
    let gateway = docker_ok(
        &host,
        &[
            "network",
            "inspect",
            "bridge",
            "--format",
            "{{(index .IPAM.Config 0).Gateway}}",
        ],
    );
    // The API does serve on that address, for the host itself.
    docker_ok(&format!("tcp://{gateway}:{api_port}"), &["version"]);

    let control_port = greeter();
    let script = format!(
        "nc -w 2 {gateway} {control_port} </dev/null; \
         printf 'GET /_ping HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {gateway} {api_port} && echo API-REACHED; true"
    );
    let out = docker_ok(&host, &["run", "--rm", "busybox", "sh", "-c", &script]);
    assert!(
        out.contains("hello from the host"),
        "the control: a container reaches a host port: {out:?}"
    );
    assert!(
        !out.contains("OK") && !out.contains("API-REACHED"),
        "a container reached the Docker API: {out:?}"
    );

    let chain = format!("BERTH-IN-{}", berthd.bridge());
    let iptables = require_tool("iptables", "iptables");
    let listed = |chain: &str| {
        Command::new(&iptables)
            .args(["-w", "-S", chain])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(listed(&chain), "the guard chain {chain} exists");
    drop(berthd);
    assert!(!listed(&chain), "berthd removed {chain} when it stopped");
}
