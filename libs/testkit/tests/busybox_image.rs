//! The busybox base image: deterministic, readable by berth-oci and by skopeo.

use std::process::Command;

use berth_oci::{ArchiveLimits, MemoryBlobs, Reference, read_archive};
use berth_testkit::{busybox_archive, require_tool};

#[test]
fn busybox_image_is_deterministic_and_loadable() {
    let dir = tempfile::tempdir().unwrap();
    let one = busybox_archive(dir.path(), "busybox:latest");
    let other_dir = tempfile::tempdir().unwrap();
    let two = busybox_archive(other_dir.path(), "busybox:latest");
    assert_eq!(one.image_id, two.image_id);
    assert_eq!(one.layer_diff_id, two.layer_diff_id);
    assert_eq!(
        std::fs::read(&one.path).unwrap(),
        std::fs::read(&two.path).unwrap()
    );

    let mut sink = MemoryBlobs::new();
    let file = std::fs::File::open(&one.path).unwrap();
    let contents = read_archive(file, &mut sink, &ArchiveLimits::default()).unwrap();
    assert_eq!(contents.images.len(), 1);
    let image = &contents.images[0];
    assert_eq!(image.config.digest().to_string(), one.image_id);
    assert_eq!(
        image.repo_tags,
        [Reference::parse("busybox:latest").unwrap()]
    );
    // The layer is uncompressed, so its digest is the diff ID.
    assert_eq!(image.layers[0].digest().to_string(), one.layer_diff_id);

    let config = sink
        .get(&berth_oci::Digest::parse(&one.image_id).unwrap())
        .unwrap();
    let config = berth_oci::config::parse_config(config).unwrap();
    assert_eq!(
        config.config().as_ref().unwrap().cmd().as_deref(),
        Some(&["sh".to_owned()][..])
    );
    assert_eq!(
        berth_oci::config::created(&config),
        Some("1970-01-01T00:00:00Z")
    );

    // The layer has the binary, applet links and the base directories.
    let layer = sink
        .get(&berth_oci::Digest::parse(&one.layer_diff_id).unwrap())
        .unwrap();
    let mut archive = tar::Archive::new(layer);
    let mut paths = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if path == "bin/sh" {
            assert_eq!(
                entry.link_name().unwrap().unwrap().to_string_lossy(),
                "busybox"
            );
        }
        if path == "tmp/" {
            assert_eq!(entry.header().mode().unwrap(), 0o1777);
        }
        paths.push(path);
    }
    for want in [
        "bin/busybox",
        "bin/sh",
        "bin/ls",
        "etc/passwd",
        "etc/group",
        "tmp/",
        "proc/",
        "usr/bin/",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "{want} missing from {paths:?}"
        );
    }
}

#[test]
fn skopeo_reads_the_busybox_image() {
    let skopeo = require_tool("skopeo", "skopeo");
    let dir = tempfile::tempdir().unwrap();
    let image = busybox_archive(dir.path(), "localhost:5000/base/busybox:1");
    for transport in ["oci-archive", "docker-archive"] {
        let out = Command::new(&skopeo)
            .args(["inspect", "--config", "--raw"])
            .arg(format!("{transport}:{}", image.path.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{transport}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            berth_oci::Digest::of(&out.stdout).to_string(),
            image.image_id,
            "{transport}"
        );
    }
}
