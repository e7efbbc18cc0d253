//! `docker pull` through berthd from a real registry (Debian's docker-registry, started by
//! each test on loopback, where plain HTTP is allowed as in Docker). The image is put
//! there by skopeo, an independent client, so the pull is checked against someone
//! else's push. Needs root, the docker CLI, docker-registry, skopeo and busybox-static
//! (the README's test command installs them).

use std::process::Command;

use berth_testkit::{
    BASIC_PASSWORD, BASIC_USER, Berthd, DockerRegistry, busybox_archive, docker, docker_ok, printed,
};

/// Copies the busybox archive into `registry` as `repo:tag` with skopeo.
fn skopeo_push(archive: &std::path::Path, target: &str) {
    let out = Command::new(berth_testkit::require_tool("skopeo", "skopeo"))
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("docker://{target}"))
        .output()
        .expect("run skopeo");
    assert!(out.status.success(), "skopeo copy: {}", printed(&out));
}

/// `docker image inspect`'s RepoDigests of `name`, as JSON.
fn repo_digests(host: &str, name: &str) -> String {
    docker_ok(
        host,
        &["image", "inspect", "-f", "{{json .RepoDigests}}", name],
    )
    .trim()
    .to_owned()
}

/// A registry holding busybox as `berth/busybox:v1` (pushed by skopeo) and a berthd
/// with its docker host and the busybox archive.
fn seeded() -> (DockerRegistry, Berthd, String, berth_testkit::BusyboxImage) {
    let registry = DockerRegistry::start();
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let busybox = busybox_archive(berthd.dir(), "busybox:latest");
    skopeo_push(
        &busybox.path,
        &format!("{}/berth/busybox:v1", registry.host()),
    );
    (registry, berthd, host, busybox)
}

#[test]
fn docker_pull_takes_an_image_from_a_registry_and_it_runs() {
    let (registry, _berthd, host, busybox) = seeded();
    let name = format!("{}/berth/busybox:v1", registry.host());

    let out = docker(&host, &["pull", &name]);
    let text = printed(&out);
    eprintln!("docker pull printed:\n{text}");
    assert!(out.status.success(), "{text}");
    assert!(text.contains("v1: Pulling from berth/busybox"), "{text}");
    assert!(text.contains("Pull complete"), "{text}");
    assert!(text.contains("Digest: sha256:"), "{text}");
    assert!(
        text.contains(&format!("Status: Downloaded newer image for {name}")),
        "{text}"
    );
    // The image is the one skopeo pushed: same config, hence same ID.
    assert_eq!(
        docker_ok(&host, &["image", "inspect", "-f", "{{.Id}}", &name]).trim(),
        busybox.image_id
    );
    assert_eq!(
        docker_ok(&host, &["run", "--rm", &name, "echo", "pulled"]).trim(),
        "pulled"
    );

    let again = docker_ok(&host, &["pull", &name]);
    assert!(
        again.contains(&format!("Status: Image is up to date for {name}")),
        "{again}"
    );
    assert!(!again.contains("Pull complete"), "{again}");

    // By digest, as `docker pull NAME@sha256:...` asks.
    let digest = text
        .lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .expect("a Digest line")
        .trim()
        .to_owned();
    let by_digest = format!("{}/berth/busybox@{digest}", registry.host());
    assert_eq!(repo_digests(&host, &name), format!("[\"{by_digest}\"]"));
    let out = docker(&host, &["pull", &by_digest]);
    assert!(out.status.success(), "{}", printed(&out));
}

#[test]
fn a_missing_tag_or_repository_fails_with_docker_s_message() {
    let (registry, _berthd, host, _busybox) = seeded();

    for missing in ["berth/busybox:nope", "berth/nothing:v1"] {
        let name = format!("{}/{missing}", registry.host());
        let out = docker(&host, &["pull", &name]);
        let text = printed(&out);
        assert!(!out.status.success(), "{text}");
        assert!(
            text.contains(&format!("manifest for {name} not found: manifest unknown"))
                || text.contains(&format!("manifest for {name} not found: name unknown")),
            "{text}"
        );
    }
    // Nothing was stored for them.
    let images = docker_ok(&host, &["images", "-q"]);
    assert!(images.trim().is_empty(), "{images}");
}

#[test]
fn docker_push_sends_an_image_that_comes_back_the_same() {
    let registry = DockerRegistry::start();
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let busybox = busybox_archive(berthd.dir(), "busybox:latest");
    docker_ok(&host, &["load", "-i", busybox.path.to_str().unwrap()]);
    let name = format!("{}/berth/pushed:v1", registry.host());
    docker_ok(&host, &["tag", "busybox:latest", &name]);

    let out = docker(&host, &["push", &name]);
    let text = printed(&out);
    eprintln!("docker push printed:\n{text}");
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "The push refers to repository [{}/berth/pushed]",
            registry.host()
        )),
        "{text}"
    );
    assert!(text.contains(": Pushed"), "{text}");
    let digest = text
        .lines()
        .find_map(|l| l.strip_prefix("v1: digest: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `v1: digest:` line in {text}"))
        .to_owned();

    // Another client sees the same manifest.
    let inspect = Command::new(berth_testkit::require_tool("skopeo", "skopeo"))
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{name}"))
        .output()
        .expect("run skopeo");
    assert!(inspect.status.success(), "{}", printed(&inspect));
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), digest);

    // Pushed again, nothing goes up twice.
    let again = docker_ok(&host, &["push", &name]);
    assert!(again.contains("Layer already exists"), "{again}");
    assert!(!again.contains(": Pushed"), "{again}");

    let pushed_at = format!("{}/berth/pushed@{digest}", registry.host());
    assert_eq!(repo_digests(&host, &name), format!("[\"{pushed_at}\"]"));

    // Removed here, pulled back: the same image.
    docker_ok(&host, &["rmi", &name, "busybox:latest"]);
    let pulled = docker_ok(&host, &["pull", &name]);
    assert!(pulled.contains(&format!("Digest: {digest}")), "{pulled}");
    assert_eq!(repo_digests(&host, &name), format!("[\"{pushed_at}\"]"));
    assert_eq!(
        docker_ok(&host, &["image", "inspect", "-f", "{{.Id}}", &name]).trim(),
        busybox.image_id
    );

    // An image that is not here is Docker's 404.
    let missing = format!("{}/berth/absent:v1", registry.host());
    let out = docker(&host, &["push", &missing]);
    assert!(!out.status.success());
    assert!(
        printed(&out).contains("An image does not exist locally with the tag"),
        "{}",
        printed(&out)
    );
}

/// `docker` with its own config directory, where `docker login` keeps credentials.
fn docker_in(config: &std::path::Path, host: &str, args: &[&str]) -> std::process::Output {
    berth_testkit::docker_command(host)
        .env("DOCKER_CONFIG", config)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run docker")
}

#[test]
fn login_gates_push_and_pull_on_a_registry_with_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let registry = DockerRegistry::with_basic_auth();
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let config = dir.path().join("docker-config");
    let busybox = busybox_archive(berthd.dir(), "busybox:latest");
    docker_ok(&host, &["load", "-i", busybox.path.to_str().unwrap()]);
    let name = format!("{}/berth/private:v1", registry.host());
    docker_ok(&host, &["tag", "busybox:latest", &name]);

    let out = docker_in(&config, &host, &["push", &name]);
    assert!(!out.status.success());
    assert!(
        printed(&out).contains("no basic auth credentials"),
        "{}",
        printed(&out)
    );

    let out = docker_in(
        &config,
        &host,
        &["login", registry.host(), "-u", BASIC_USER, "-p", "wrong"],
    );
    assert!(!out.status.success());
    assert!(
        printed(&out).contains("401 Unauthorized"),
        "{}",
        printed(&out)
    );

    let out = docker_in(
        &config,
        &host,
        &[
            "login",
            registry.host(),
            "-u",
            BASIC_USER,
            "-p",
            BASIC_PASSWORD,
        ],
    );
    assert!(out.status.success(), "{}", printed(&out));
    assert!(
        printed(&out).contains("Login Succeeded"),
        "{}",
        printed(&out)
    );

    let out = docker_in(&config, &host, &["push", &name]);
    assert!(out.status.success(), "{}", printed(&out));
    docker_ok(&host, &["rmi", &name]);
    let out = docker_in(&config, &host, &["pull", &name]);
    assert!(out.status.success(), "{}", printed(&out));

    docker_in(&config, &host, &["logout", registry.host()]);
    docker_ok(&host, &["rmi", &name]);
    let out = docker_in(&config, &host, &["pull", &name]);
    assert!(!out.status.success());
    assert!(
        printed(&out).contains("no basic auth credentials"),
        "{}",
        printed(&out)
    );
}

/// A network namespace reached from the host over a veth pair: a registry there has a
/// non-loopback address, so berth checks its certificate. Removed on drop.
struct Netns {
    name: String,
    host_link: String,
    /// The namespace's address.
    ip: String,
}

fn ip(args: &[&str]) {
    let out = Command::new(berth_testkit::require_tool("ip", "iproute2"))
        .args(args)
        .output()
        .expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {}", printed(&out));
}

impl Netns {
    fn new() -> Self {
        let pid = std::process::id();
        let (name, host_link, peer) = (
            format!("brg{pid}"),
            format!("vrh{pid}"),
            format!("vrn{pid}"),
        );
        let third = pid % 250;
        let ns = Netns {
            ip: format!("10.252.{third}.2"),
            name,
            host_link,
        };
        ip(&["netns", "add", &ns.name]);
        ip(&[
            "link",
            "add",
            &ns.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
        ]);
        ip(&["link", "set", &peer, "netns", &ns.name]);
        ip(&[
            "addr",
            "add",
            &format!("10.252.{third}.1/30"),
            "dev",
            &ns.host_link,
        ]);
        ip(&["link", "set", &ns.host_link, "up"]);
        ip(&[
            "-n",
            &ns.name,
            "addr",
            "add",
            &format!("{}/30", ns.ip),
            "dev",
            &peer,
        ]);
        ip(&["-n", &ns.name, "link", "set", &peer, "up"]);
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let ip = berth_testkit::require_tool("ip", "iproute2");
        let _ = Command::new(&ip)
            .args(["link", "del", &self.host_link])
            .status();
        let _ = Command::new(&ip)
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn a_tls_registry_is_trusted_through_certs_d_and_refused_without_it() {
    let netns = Netns::new();
    let pki = berth_testkit::TestPki::new();
    pki.server_for("registry", &netns.ip);
    let registry = DockerRegistry::tls_in_netns(
        &netns.name,
        &format!("{}:5000", netns.ip),
        &pki.path("registry.pem"),
        &pki.path("registry-key.pem"),
    );
    // Docker's layout: certs.d/HOST:PORT/*.crt.
    let certs = tempfile::tempdir().unwrap();
    let ca_dir = certs.path().join(registry.host());
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::copy(pki.path("ca.pem"), ca_dir.join("ca.crt")).unwrap();
    let berthd = Berthd::start_with(&["--registry-certs-dir", certs.path().to_str().unwrap()]);
    let host = berthd.docker_host();
    let busybox = busybox_archive(berthd.dir(), "busybox:latest");
    let name = format!("{}/berth/busybox:v1", registry.host());
    skopeo_push(&busybox.path, &name);

    let out = docker(&host, &["pull", &name]);
    assert!(out.status.success(), "{}", printed(&out));

    // The CA is read for every connection: without it the certificate is not trusted.
    std::fs::remove_file(ca_dir.join("ca.crt")).unwrap();
    docker_ok(&host, &["rmi", &name]);
    let out = docker(&host, &["pull", &name]);
    assert!(!out.status.success(), "{}", printed(&out));
    assert!(
        printed(&out).contains("x509: certificate signed by unknown authority"),
        "{}",
        printed(&out)
    );
}

/// A TCP relay to `upstream` that cuts the first blob download after 64 KiB, as a
/// dropped connection would; everything else passes untouched. Returns its address and
/// whether a later download asked for a range from past the start.
fn relay_cutting_one_download(
    upstream: String,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let cut_done = Arc::new(AtomicBool::new(false));
    let ranged = Arc::new(AtomicBool::new(false));
    let seen = ranged.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let (upstream, cut_done, seen) = (upstream.clone(), cut_done.clone(), seen.clone());
            std::thread::spawn(move || {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    return;
                };
                let mut head = [0u8; 512];
                let n = client.peek(&mut head).unwrap_or(0);
                let text = String::from_utf8_lossy(&head[..n]);
                let blob = text.starts_with("GET ") && text.contains("/blobs/sha256:");
                let range = text.to_ascii_lowercase().contains("range: bytes=");
                if blob && range && !text.contains("bytes=0-") {
                    seen.store(true, Ordering::SeqCst);
                }
                let cut = blob && !range;
                let (mut from_client, mut to_server) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_client, &mut to_server);
                    let _ = to_server.shutdown(Shutdown::Write);
                });
                let (mut from_server, mut to_client) = (server, client);
                if cut && !cut_done.swap(true, Ordering::SeqCst) {
                    let mut left = 64 << 10;
                    let mut buf = [0u8; 8192];
                    while left > 0 {
                        let Ok(n) = from_server.read(&mut buf) else {
                            break;
                        };
                        if n == 0 {
                            break;
                        }
                        let n = n.min(left);
                        if to_client.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        left -= n;
                    }
                    let _ = to_client.shutdown(Shutdown::Both);
                    let _ = from_server.shutdown(Shutdown::Both);
                } else {
                    let _ = std::io::copy(&mut from_server, &mut to_client);
                    let _ = to_client.shutdown(Shutdown::Write);
                }
            });
        }
    });
    (addr, ranged)
}

#[test]
fn a_download_cut_short_resumes_where_it_stopped() {
    let (registry, _berthd, host, busybox) = seeded();
    let (relay, ranged) = relay_cutting_one_download(registry.host().to_owned());
    let name = format!("{relay}/berth/busybox:v1");

    let out = docker(&host, &["pull", &name]);
    let text = printed(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Retrying in 1 second"), "{text}");
    assert!(
        ranged.load(std::sync::atomic::Ordering::SeqCst),
        "the second download asks for the rest only"
    );
    assert!(text.contains("Pull complete"), "{text}");
    assert_eq!(
        docker_ok(&host, &["image", "inspect", "-f", "{{.Id}}", &name]).trim(),
        busybox.image_id
    );
    assert_eq!(
        docker_ok(&host, &["run", "--rm", &name, "echo", "whole"]).trim(),
        "whole"
    );
}

/// An OCI layout holding, as `v1`, an index of two one-layer images, linux/amd64 and
/// linux/arm64, each with a file `/platform` naming it. Returns each image's config
/// digest (its image ID), amd64 first.
fn multi_platform_layout(dir: &std::path::Path) -> (String, String) {
    use berth_oci::Digest;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> (String, usize) {
        let digest = Digest::of(bytes).to_string();
        let hex = digest.trim_start_matches("sha256:");
        std::fs::write(blobs.join(hex), bytes).unwrap();
        (digest, bytes.len())
    };
    let mut manifests = Vec::new();
    let mut ids = Vec::new();
    for arch in ["amd64", "arm64"] {
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(arch.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "platform", arch.as_bytes())
            .unwrap();
        let layer = tar.into_inner().unwrap();
        let (layer_digest, layer_size) = put(&layer);
        let config = format!(
            r#"{{"architecture":"{arch}","os":"linux","config":{{"Cmd":["/platform"]}},"rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
        );
        let (config_digest, config_size) = put(config.as_bytes());
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{layer_size}}}]}}"#
        );
        let (manifest_digest, manifest_size) = put(manifest.as_bytes());
        manifests.push(format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{manifest_size},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#
        ));
        ids.push(config_digest);
    }
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        manifests.join(",")
    );
    let (index_digest, index_size) = put(index.as_bytes());
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{index_digest}","size":{index_size},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#
        ),
    )
    .unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    (ids[0].clone(), ids[1].clone())
}

#[test]
fn a_multi_platform_index_pulls_the_host_s_image_or_the_one_asked_for() {
    let registry = DockerRegistry::start();
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let layout = tempfile::tempdir().unwrap();
    let (amd64, arm64) = multi_platform_layout(layout.path());
    let name = format!("{}/berth/multi:v1", registry.host());
    let out = Command::new(berth_testkit::require_tool("skopeo", "skopeo"))
        .args(["copy", "--quiet", "--all", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v1", layout.path().display()))
        .arg(format!("docker://{name}"))
        .output()
        .expect("run skopeo");
    assert!(out.status.success(), "skopeo copy --all: {}", printed(&out));

    // This machine is amd64 (as CI's): the pull picks that image from the index.
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "the test assumes an amd64 host"
    );
    docker_ok(&host, &["pull", &name]);
    assert_eq!(
        docker_ok(
            &host,
            &["image", "inspect", "-f", "{{.Id}} {{.Architecture}}", &name]
        )
        .trim(),
        format!("{amd64} amd64")
    );
    // --platform asks for the other one.
    docker_ok(&host, &["pull", "--platform", "linux/arm64", &name]);
    assert_eq!(
        docker_ok(
            &host,
            &["image", "inspect", "-f", "{{.Id}} {{.Architecture}}", &name]
        )
        .trim(),
        format!("{arm64} arm64")
    );
}

/// A registry that lies, on a free loopback port: `bad/blob:v1` names a layer it then
/// serves with the wrong bytes, `bad/huge:v1` is a manifest over 4 MiB, `bad/loop:v1`
/// redirects to itself. Raw HTTP/1.1, one answer per connection. Returns its address.
fn lying_registry() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let layer = vec![7u8; 4096];
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        berth_oci::Digest::of(&layer)
    );
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
        berth_oci::Digest::of(config.as_bytes()),
        config.len(),
        berth_oci::Digest::of(&layer),
        layer.len()
    );
    let config_path = format!("/blobs/{}", berth_oci::Digest::of(config.as_bytes()));
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
                // A TLS hello: this registry speaks plain HTTP only.
                if request.first() == Some(&0x16) {
                    break;
                }
            }
            if request.first() == Some(&0x16) {
                continue;
            }
            let text = String::from_utf8_lossy(&request);
            let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let ok = |content_type: &str, body: &[u8]| {
                let mut out = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                out.extend_from_slice(body);
                out
            };
            let manifest_type = "application/vnd.oci.image.manifest.v1+json";
            let answer = if path == "/v2/" {
                ok("application/json", b"{}")
            } else if path.ends_with("/bad/blob/manifests/v1") {
                ok(manifest_type, manifest.as_bytes())
            } else if path.ends_with(&config_path) {
                ok("application/octet-stream", config.as_bytes())
            } else if path.contains("/bad/blob/blobs/") {
                ok("application/octet-stream", &vec![8u8; 4096])
            } else if path.ends_with("/bad/huge/manifests/v1") {
                ok(manifest_type, &vec![b' '; 5 << 20])
            } else if path.ends_with("/bad/loop/manifests/v1") {
                format!(
                    "HTTP/1.1 302 Found\r\nLocation: {path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                .into_bytes()
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            };
            let _ = socket.write_all(&answer);
        }
    });
    addr
}

#[test]
fn a_lying_registry_is_refused_and_nothing_is_kept() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let registry = lying_registry();
    for (repository, expected) in [
        ("bad/blob", "digest"),
        ("bad/huge", "limit"),
        ("bad/loop", "redirects"),
    ] {
        let name = format!("{registry}/{repository}:v1");
        let out = docker(&host, &["pull", &name]);
        let text = printed(&out);
        assert!(!out.status.success(), "{text}");
        assert!(text.contains(expected), "{repository}: {text}");
    }
    let images = docker_ok(&host, &["images", "-aq"]);
    assert!(images.trim().is_empty(), "nothing is kept: {images}");
}
