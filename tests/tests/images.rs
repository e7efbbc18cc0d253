//! Images through the real docker CLI against berthd: load, list, inspect, history, tag,
//! rmi, save, import; interop with skopeo; hostile archives refused without a trace.
//! Needs root, the docker CLI, Debian's busybox-static and skopeo (the README's test
//! command installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_testkit::{Berthd, BusyboxImage, busybox_archive, docker_fails, docker_ok, require_tool};

fn loaded_busybox(berthd: &Berthd) -> BusyboxImage {
    let image = busybox_archive(berthd.dir(), "busybox:latest");
    let shown = docker_ok(
        &berthd.docker_host(),
        &["load", "-i", image.path.to_str().unwrap()],
    );
    assert!(shown.contains("Loaded image: busybox:latest"), "{shown}");
    image
}

fn short(id: &str) -> &str {
    &id.trim_start_matches("sha256:")[..12]
}

#[test]
fn load_list_inspect_and_history() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let busybox = loaded_busybox(&berthd);

    let listed = docker_ok(
        &host,
        &["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"],
    );
    assert_eq!(
        listed,
        format!("busybox:latest {}", short(&busybox.image_id))
    );

    assert_eq!(
        docker_ok(
            &host,
            &["image", "inspect", "busybox", "--format", "{{.Id}}"]
        ),
        busybox.image_id
    );
    assert_eq!(
        docker_ok(
            &host,
            &[
                "image",
                "inspect",
                "busybox",
                "--format",
                "{{json .RootFS.Layers}}"
            ]
        ),
        format!("[\"{}\"]", busybox.layer_diff_id)
    );
    assert_eq!(
        docker_ok(
            &host,
            &[
                "image",
                "inspect",
                "busybox",
                "--format",
                "{{json .Config.Cmd}} {{.Os}}"
            ]
        ),
        "[\"sh\"] linux"
    );
    // By short ID and by full name too.
    assert_eq!(
        docker_ok(
            &host,
            &[
                "image",
                "inspect",
                short(&busybox.image_id),
                "--format",
                "{{.Id}}"
            ]
        ),
        busybox.image_id
    );
    assert_eq!(
        docker_ok(
            &host,
            &[
                "image",
                "inspect",
                "docker.io/library/busybox:latest",
                "--format",
                "{{.Id}}"
            ]
        ),
        busybox.image_id
    );

    let history = docker_ok(
        &host,
        &[
            "history",
            "--no-trunc",
            "--format",
            "{{.ID}}|{{.CreatedBy}}",
            "busybox",
        ],
    );
    assert_eq!(
        history,
        format!(
            "{}|berth busybox-image from Debian busybox-static",
            busybox.image_id
        )
    );

    let missing = docker_fails(&host, &["image", "inspect", "nosuch:1"]);
    assert!(missing.contains("No such image: nosuch:1"), "{missing}");
}

#[test]
fn tag_then_rmi_untags_before_it_deletes() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let busybox = loaded_busybox(&berthd);

    docker_ok(&host, &["tag", "busybox", "kuard-amd64:1"]);
    let listed = docker_ok(&host, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut names: Vec<&str> = listed.lines().collect();
    names.sort();
    assert_eq!(names, ["busybox:latest", "kuard-amd64:1"]);

    // By ID while two names point at it: Docker refuses unless forced.
    let refused = docker_fails(&host, &["rmi", short(&busybox.image_id)]);
    assert!(
        refused.contains("must be forced")
            && refused.contains("referenced in multiple repositories"),
        "{refused}"
    );

    assert_eq!(
        docker_ok(&host, &["rmi", "kuard-amd64:1"]),
        "Untagged: kuard-amd64:1"
    );
    assert_eq!(
        docker_ok(&host, &["images", "-q", "--no-trunc"]),
        busybox.image_id,
        "the image stays"
    );

    let removed = docker_ok(&host, &["rmi", "busybox"]);
    assert_eq!(
        removed,
        format!("Untagged: busybox:latest\nDeleted: {}", busybox.image_id)
    );
    assert_eq!(docker_ok(&host, &["images", "-q"]), "");
    let blobs = std::fs::read_dir(berthd.data_root().join("image-store/blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0, "deleting the last image frees its blobs");

    let again = docker_fails(&host, &["rmi", "busybox"]);
    assert!(again.contains("No such image: busybox"), "{again}");
}

#[test]
fn rmi_force_by_id_removes_every_tag() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let busybox = loaded_busybox(&berthd);
    docker_ok(&host, &["tag", "busybox", "localhost:5000/team/app:2"]);
    let removed = docker_ok(&host, &["rmi", "-f", &busybox.image_id]);
    assert!(
        removed.contains("Untagged: localhost:5000/team/app:2"),
        "{removed}"
    );
    assert!(removed.contains("Untagged: busybox:latest"), "{removed}");
    assert!(
        removed.ends_with(&format!("Deleted: {}", busybox.image_id)),
        "{removed}"
    );
}

#[test]
fn save_then_load_round_trips_with_identical_digests() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let busybox = loaded_busybox(&berthd);
    docker_ok(&host, &["tag", "busybox", "app:1"]);

    let saved = berthd.dir().join("saved.tar");
    docker_ok(
        &host,
        &["save", "-o", saved.to_str().unwrap(), "busybox", "app:1"],
    );
    docker_ok(&host, &["rmi", "-f", &busybox.image_id]);
    let shown = docker_ok(&host, &["load", "-i", saved.to_str().unwrap()]);
    assert!(
        shown.contains("Loaded image: busybox:latest") && shown.contains("Loaded image: app:1"),
        "{shown}"
    );
    assert_eq!(
        docker_ok(&host, &["image", "inspect", "app:1", "--format", "{{.Id}}"]),
        busybox.image_id
    );

    // The pipe users write.
    let docker = require_tool("docker", "docker.io");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{d} -H {host} save busybox | {d} -H {host} load",
            d = docker.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Loaded image: busybox:latest"));
    assert_eq!(
        docker_ok(&host, &["images", "-q", "--no-trunc", "busybox"]),
        busybox.image_id
    );
}

#[test]
fn import_makes_an_image_with_changes() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let rootfs = rootfs_tar(berthd.dir());
    let id = docker_ok(
        &host,
        &[
            "import",
            rootfs.to_str().unwrap(),
            "myimg:1",
            "--change",
            r#"CMD ["/bin/sh"]"#,
            "--change",
            "ENV A=b",
        ],
    );
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(
        docker_ok(
            &host,
            &["image", "inspect", "myimg:1", "--format", "{{.Id}}"]
        ),
        id
    );
    assert_eq!(
        docker_ok(
            &host,
            &[
                "image",
                "inspect",
                "myimg:1",
                "--format",
                "{{json .Config.Cmd}}"
            ]
        ),
        r#"["/bin/sh"]"#
    );
    assert!(
        docker_ok(
            &host,
            &[
                "image",
                "inspect",
                "myimg:1",
                "--format",
                "{{json .Config.Env}}"
            ]
        )
        .contains("A=b")
    );
    let comment = docker_ok(&host, &["history", "--format", "{{.Comment}}", "myimg:1"]);
    assert_eq!(comment, "Imported from -");

    let refused = docker_fails(
        &host,
        &[
            "import",
            rootfs.to_str().unwrap(),
            "bad:1",
            "--change",
            "RUN echo hi",
        ],
    );
    assert!(refused.contains("RUN"), "{refused}");
    assert!(docker_fails(&host, &["image", "inspect", "bad:1"]).contains("No such image"));
}

/// A small root filesystem tar: one file, one directory.
fn rootfs_tar(dir: &Path) -> PathBuf {
    let src = dir.join("rootfs");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/hello"), "hello\n").unwrap();
    let out = dir.join("rootfs.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&src)
        .arg("-cf")
        .arg(&out)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    out
}

#[test]
fn skopeo_reads_what_berth_saves_and_berth_loads_what_skopeo_writes() {
    let skopeo = require_tool("skopeo", "skopeo");
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let busybox = loaded_busybox(&berthd);
    let saved = berthd.dir().join("saved.tar");
    docker_ok(&host, &["save", "-o", saved.to_str().unwrap(), "busybox"]);

    // The image ID is the config digest: skopeo must see the same config, byte for byte.
    let config = Command::new(&skopeo)
        .args(["inspect", "--config", "--raw"])
        .arg(format!("oci-archive:{}", saved.display()))
        .output()
        .unwrap();
    assert!(
        config.status.success(),
        "{}",
        String::from_utf8_lossy(&config.stderr)
    );
    let digest = format!("sha256:{}", sha256_hex(&config.stdout));
    assert_eq!(digest, busybox.image_id);

    // skopeo writes an OCI archive of its own; berth loads it to the same image.
    let copied = berthd.dir().join("copied.tar");
    let out = Command::new(&skopeo)
        .arg("copy")
        .arg(format!("oci-archive:{}", saved.display()))
        .arg(format!("oci-archive:{}:copied:7", copied.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    docker_ok(&host, &["rmi", "busybox"]);
    let shown = docker_ok(&host, &["load", "-i", copied.to_str().unwrap()]);
    assert!(shown.contains("Loaded image"), "{shown}");
    assert_eq!(
        docker_ok(&host, &["images", "-q", "--no-trunc"]),
        busybox.image_id
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    let out = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bytes)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn hostile_and_broken_archives_are_refused_and_change_nothing() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let busybox = loaded_busybox(&berthd);
    let before = docker_ok(
        &host,
        &[
            "images",
            "--no-trunc",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}",
        ],
    );
    let canary = berthd.dir().join("canary");

    // An entry climbing out of the archive.
    let evil = berthd.dir().join("evil.tar");
    write_raw_tar(&evil, &[("../canary", b"pwned".as_slice())]);
    let shown = docker_fails(&host, &["load", "-i", evil.to_str().unwrap()]);
    assert!(shown.contains("../canary"), "{shown}");
    assert!(!canary.exists());

    // Half an archive.
    let bytes = std::fs::read(&busybox.path).unwrap();
    let half = berthd.dir().join("half.tar");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let shown = docker_fails(&host, &["load", "-i", half.to_str().unwrap()]);
    assert!(
        shown.to_lowercase().contains("truncated") || shown.contains("unexpected end"),
        "{shown}"
    );

    // A blob whose bytes are not what its name promises.
    let lying = berthd.dir().join("lying.tar");
    let fake = format!("blobs/sha256/{}", "0".repeat(64));
    write_raw_tar(
        &lying,
        &[
            (
                "oci-layout",
                br#"{"imageLayoutVersion":"1.0.0"}"#.as_slice(),
            ),
            (&fake, b"not that"),
        ],
    );
    let shown = docker_fails(&host, &["load", "-i", lying.to_str().unwrap()]);
    assert!(shown.contains("digest"), "{shown}");

    let after = docker_ok(
        &host,
        &[
            "images",
            "--no-trunc",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}",
        ],
    );
    assert_eq!(before, after, "nothing changed");
    let ingest = std::fs::read_dir(berthd.data_root().join("image-store/ingest"))
        .unwrap()
        .count();
    assert_eq!(ingest, 0, "no half-written upload is left behind");
}

/// A tar with names written as given, `..` and all, as an attacker would.
fn write_raw_tar(path: &Path, entries: &[(&str, &[u8])]) {
    let mut out = Vec::new();
    for (name, data) in entries {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        header[100..107].copy_from_slice(b"0000644");
        header[108..115].copy_from_slice(b"0000000");
        header[116..123].copy_from_slice(b"0000000");
        header[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        header[136..147].copy_from_slice(b"00000000000");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|b| *b as u32).sum();
        header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    std::fs::write(path, out).unwrap();
}

#[test]
fn filters_prune_and_image_events() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let since = berth_testkit::events_time(std::time::SystemTime::now());
    let busybox = loaded_busybox(&berthd);
    let rootfs = rootfs_tar(berthd.dir());
    let imported = docker_ok(&host, &["import", rootfs.to_str().unwrap()]);
    docker_ok(&host, &["tag", "busybox", "team/app:1"]);

    let dangling = docker_ok(
        &host,
        &["images", "-q", "--no-trunc", "--filter", "dangling=true"],
    );
    assert_eq!(dangling, imported, "the untagged import is dangling");
    let by_ref = docker_ok(
        &host,
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "--filter",
            "reference=team/*",
        ],
    );
    assert_eq!(by_ref, "team/app:1");
    let bad = docker_fails(&host, &["images", "--filter", "colour=red"]);
    assert!(bad.contains("invalid filter 'colour'"), "{bad}");

    let pruned = docker_ok(&host, &["image", "prune", "-f"]);
    assert!(pruned.contains(&format!("deleted: {imported}")), "{pruned}");
    let left = docker_ok(
        &host,
        &[
            "images",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.Repository}}:{{.Tag}}",
        ],
    );
    let mut left: Vec<&str> = left.lines().collect();
    left.sort();
    let id = &busybox.image_id;
    assert_eq!(
        left,
        [format!("{id} busybox:latest"), format!("{id} team/app:1")],
        "tagged images survive a prune"
    );

    let until = berth_testkit::events_time(std::time::SystemTime::now());
    let events = docker_ok(
        &host,
        &[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "type=image",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ],
    );
    let lines: Vec<&str> = events.lines().collect();
    assert_eq!(
        lines,
        [
            "load busybox:latest",
            "import <no value>",
            "tag team/app:1",
            "delete <no value>"
        ]
    );
}
