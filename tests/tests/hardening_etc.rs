//! Issue #9, finding 1 (and the /etc/hosts part of finding 9), as attacks run for real
//! through the docker CLI against berthd: images whose `/etc/hostname`, `/etc/hosts`,
//! `/etc/resolv.conf` or `/etc` link to host paths, a running container that swaps its
//! `/etc/hosts` for a link to a host file, a huge `/etc/passwd`, a volume path through a
//! link to the host. Every host file a test plants as a target is its own temporary file,
//! checked unchanged afterwards. Needs root, the docker CLI and Debian's busybox-static.

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_testkit::{Berthd, docker, docker_fails, docker_ok, printed};

enum Node {
    Dir,
    File(Vec<u8>),
    Link(String),
}

/// A busybox image (the static binary and a link per applet) with `extra` entries on
/// top, imported as `tag`. Paths are relative to the image's root.
fn image(berthd: &Berthd, tag: &str, extra: Vec<(&str, Node)>) {
    let applets = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox-static is installed (apt-get install busybox-static)");
    let mut entries: Vec<(String, Node)> = vec![
        ("bin".into(), Node::Dir),
        (
            "bin/busybox".into(),
            Node::File(std::fs::read("/bin/busybox").unwrap()),
        ),
        ("proc".into(), Node::Dir),
        ("sys".into(), Node::Dir),
        ("dev".into(), Node::Dir),
        ("tmp".into(), Node::Dir),
    ];
    for name in String::from_utf8_lossy(&applets.stdout).lines() {
        let name = name.trim();
        if !name.is_empty() && name != "busybox" && !name.contains('/') {
            entries.push((format!("bin/{name}"), Node::Link("busybox".into())));
        }
    }
    entries.extend(extra.into_iter().map(|(p, n)| (p.to_owned(), n)));
    let mut tar = tar::Builder::new(Vec::new());
    for (path, node) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        match node {
            Node::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, &path, std::io::empty())
                    .unwrap();
            }
            Node::File(bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o755);
                header.set_size(bytes.len() as u64);
                tar.append_data(&mut header, &path, bytes.as_slice())
                    .unwrap();
            }
            Node::Link(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, &path, &target).unwrap();
            }
        }
    }
    let file = berthd
        .dir()
        .join(format!("{}.tar", tag.replace([':', '/'], "_")));
    std::fs::write(&file, tar.into_inner().unwrap()).unwrap();
    docker_ok(
        &berthd.docker_host(),
        &[
            "import",
            "--change",
            r#"CMD ["sh"]"#,
            file.to_str().unwrap(),
            tag,
        ],
    );
}

/// Host files that an attack aims at: each holds a known text until the end.
struct Targets {
    dir: tempfile::TempDir,
}

const UNTOUCHED: &str = "a host file berth must never write\n";

impl Targets {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berth-hardening-")
            .tempdir()
            .unwrap();
        Targets { dir }
    }

    /// A host file holding [`UNTOUCHED`].
    fn file(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, UNTOUCHED).unwrap();
        path
    }

    fn assert_untouched(&self) {
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                UNTOUCHED,
                "{} was written",
                path.display()
            );
        }
    }
}

fn text(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

#[test]
fn an_images_etc_files_linked_to_host_files_are_never_written() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let targets = Targets::new();
    let (hostname, hosts, resolv) = (
        targets.file("hostname"),
        targets.file("hosts"),
        targets.file("resolv.conf"),
    );
    // Absolute links, and a relative one that climbs far past the root.
    let climb = format!("../../../../../../../..{}", text(&hostname));
    image(
        &berthd,
        "etc-links:1",
        vec![
            ("etc", Node::Dir),
            ("etc/hostname", Node::Link(climb)),
            ("etc/hosts", Node::Link(text(&hosts))),
            ("etc/resolv.conf", Node::Link(text(&resolv))),
        ],
    );
    docker_ok(&host, &["network", "create", "hardnet"]);
    for network in ["bridge", "hardnet", "none"] {
        let out = docker_ok(
            &host,
            &[
                "run",
                "--rm",
                "--network",
                network,
                "-h",
                "inside",
                "etc-links:1",
                "sh",
                "-c",
                "hostname; cat /etc/hostname; cat /etc/hosts; cat /etc/resolv.conf",
            ],
        );
        targets.assert_untouched();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[..2], ["inside", "inside"], "{network}: {out}");
        assert!(out.contains("localhost"), "{network}: /etc/hosts: {out}");
        assert!(!out.contains(UNTOUCHED.trim()), "{network}: {out}");
    }
    // The host network's container gets copies of the host's files, and its name.
    let out = docker_ok(
        &host,
        &[
            "run",
            "--rm",
            "--network",
            "host",
            "etc-links:1",
            "sh",
            "-c",
            "hostname; cat /etc/hostname; cat /etc/hosts",
        ],
    );
    targets.assert_untouched();
    let own = nix::unistd::gethostname().unwrap();
    let own = own.to_string_lossy();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], [&*own, &*own], "{out}");
    let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    assert!(out.ends_with(host_hosts.trim_end()), "{out}");
}

#[test]
fn a_container_swapping_its_etc_hosts_for_a_link_cannot_make_berth_write_there() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let targets = Targets::new();
    let victim = targets.file("victim");
    docker_ok(&host, &["network", "create", "swapnet"]);
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "swapper",
            "--network",
            "swapnet",
            "busybox",
            "sleep",
            "300",
        ],
    );
    // The attack: replace /etc/hosts with a link to a host file, then wait for the next
    // rewrite. /etc/hosts is a bind mount now, so the swap itself fails; the rewrite
    // after it must not reach the host either way.
    let swap = docker(
        &host,
        &[
            "exec",
            "swapper",
            "sh",
            "-c",
            &format!("rm -f /etc/hosts; ln -sf {} /etc/hosts", text(&victim)),
        ],
    );
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "joiner",
            "--network",
            "swapnet",
            "busybox",
            "sleep",
            "300",
        ],
    );
    targets.assert_untouched();
    // Names still resolve: the rewrite went to the file the container sees.
    let hosts = docker_ok(&host, &["exec", "swapper", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains("joiner"),
        "swapper's /etc/hosts names the new peer: {hosts}\n(swap: {})",
        printed(&swap)
    );
    docker_ok(&host, &["rm", "-f", "joiner"]);
    targets.assert_untouched();

    // A container with CAP_SYS_ADMIN can take the mount away and plant the link in its root:
    // berth never writes there, so the next rewrite still cannot reach the host.
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--cap-add",
            "SYS_ADMIN",
            "--name",
            "unmounter",
            "--network",
            "swapnet",
            "busybox",
            "sleep",
            "300",
        ],
    );
    docker_ok(
        &host,
        &[
            "exec",
            "unmounter",
            "sh",
            "-c",
            &format!(
                "umount /etc/hosts && rm -f /etc/hosts && ln -s {} /etc/hosts && \
                 readlink /etc/hosts",
                text(&victim)
            ),
        ],
    );
    docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--name",
            "joiner2",
            "--network",
            "swapnet",
            "busybox",
            "sleep",
            "300",
        ],
    );
    targets.assert_untouched();
    docker_ok(&host, &["rm", "-f", "joiner2", "unmounter", "swapper"]);
    targets.assert_untouched();
}

#[test]
fn peers_on_the_default_bridge_are_not_rewritten_but_named_networks_are() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    docker_ok(&host, &["network", "create", "named"]);
    for (name, network) in [("on-bridge", "bridge"), ("on-named", "named")] {
        docker_ok(
            &host,
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
        // A line of the container's own: a rewrite of the file would drop it.
        docker_ok(
            &host,
            &[
                "exec",
                name,
                "sh",
                "-c",
                "echo '192.0.2.7 marker' >> /etc/hosts",
            ],
        );
    }
    // Plugging a new container rewrites its peers' files before `run -d` returns.
    for network in ["bridge", "named"] {
        docker_ok(
            &host,
            &["run", "-d", "--network", network, "busybox", "sleep", "300"],
        );
    }
    let on_bridge = docker_ok(&host, &["exec", "on-bridge", "cat", "/etc/hosts"]);
    assert!(
        on_bridge.contains("marker"),
        "a start on the default bridge rewrote a peer's /etc/hosts: {on_bridge}"
    );
    let on_named = docker_ok(&host, &["exec", "on-named", "cat", "/etc/hosts"]);
    assert!(
        !on_named.contains("marker"),
        "a start on a named network rewrites its peers' /etc/hosts: {on_named}"
    );
    let ids = docker_ok(&host, &["ps", "-aq"]);
    let mut rm = vec!["rm", "-f"];
    rm.extend(ids.lines());
    docker_ok(&host, &rm);
}

#[test]
fn user_lookups_never_read_the_hosts_passwd() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    // The classic way out of a host-side join: through the runner's own /proc/self/root.
    image(
        &berthd,
        "etc-proc:1",
        vec![("etc", Node::Link("/proc/self/root/etc".into()))],
    );
    let err = docker_fails(&host, &["run", "--rm", "-u", "root", "etc-proc:1", "true"]);
    assert!(err.contains("unable to find user root"), "{err}");

    // /etc -> /etc: inside the root it points at itself.
    image(
        &berthd,
        "etc-loop:1",
        vec![("etc", Node::Link("/etc".into()))],
    );
    let err = docker_fails(&host, &["run", "--rm", "-u", "root", "etc-loop:1", "true"]);
    assert!(err.contains("too many levels of symbolic links"), "{err}");

    // A passwd too big to read.
    let line = "app:x:1000:1000::/home/app:/bin/sh\n";
    let huge = line.repeat((5 << 20) / line.len());
    image(
        &berthd,
        "huge-passwd:1",
        vec![
            ("etc", Node::Dir),
            ("etc/passwd", Node::File(huge.into_bytes())),
        ],
    );
    let err = docker_fails(
        &host,
        &["run", "--rm", "-u", "app", "huge-passwd:1", "true"],
    );
    assert!(
        err.contains("the image's /etc/passwd is larger than 4 MiB"),
        "{err}"
    );
}

#[test]
fn a_volume_path_through_a_link_to_the_host_copies_nothing_from_the_host() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let secrets = tempfile::Builder::new()
        .prefix("berth-hardening-")
        .tempdir()
        .unwrap();
    std::fs::write(secrets.path().join("secret"), "host secret\n").unwrap();
    // The image links /data to the host directory's path, and has a directory of its
    // own at that path: inside the root, that is what /data is.
    let inside = text(secrets.path());
    let inside = inside.trim_start_matches('/');
    let mine = format!("{inside}/mine");
    image(
        &berthd,
        "vol-link:1",
        vec![
            ("data", Node::Link(text(secrets.path()))),
            (inside, Node::Dir),
            (&mine, Node::File(b"image\n".to_vec())),
        ],
    );
    let out = docker_ok(
        &host,
        &[
            "run",
            "--rm",
            "-v",
            "linked:/data",
            "vol-link:1",
            "ls",
            "-A",
            "/data",
        ],
    );
    assert_eq!(out, "mine", "the container sees the image's files only");
    let mountpoint = docker_ok(
        &host,
        &["volume", "inspect", "-f", "{{.Mountpoint}}", "linked"],
    );
    let copied: Vec<_> = std::fs::read_dir(&mountpoint)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        copied,
        ["mine"],
        "copied from the image, nothing from the host"
    );
    // Through a link that stays inside the image, the image's own directory is copied.
    image(
        &berthd,
        "vol-inner:1",
        vec![
            ("real", Node::Dir),
            ("real/mine", Node::File(b"image\n".to_vec())),
            ("data", Node::Link("/real".into())),
        ],
    );
    let out = docker_ok(
        &host,
        &[
            "run",
            "--rm",
            "-v",
            "inner:/data",
            "vol-inner:1",
            "cat",
            "/data/mine",
        ],
    );
    assert_eq!(out, "image");
}
