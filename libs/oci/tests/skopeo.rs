//! Interop with the real skopeo (containers/image): archives berth writes are read by
//! skopeo as both `oci-archive:` and `docker-archive:`, and archives skopeo writes are
//! read by berth with the same digests. These tests fail, never skip, without skopeo.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_oci::media_type::OCI_INDEX;
use berth_oci::{
    ArchiveLimits, Digest, ExportImage, MemoryBlobs, Reference, read_archive, write_archive,
};
use common::{layer_tar, store_gzip_image, store_image};
use serde_json::{Value, json};

fn skopeo() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("skopeo"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("this test needs skopeo: apt-get install skopeo"))
}

fn run(args: &[&str]) -> Vec<u8> {
    let out = Command::new(skopeo())
        .args(args)
        .output()
        .expect("skopeo runs");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn digest_strings(value: &Value, key: &str) -> Vec<String> {
    value[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn skopeo_reads_what_berth_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut blobs = MemoryBlobs::new();
    let shared = layer_tar(&[("bin/sh", b"shell")]);
    let own = layer_tar(&[("etc/app", b"app")]);
    let one = store_image(&mut blobs, &[&shared], "one");
    let two = store_image(&mut blobs, &[&shared, &own], "two");
    let images = [
        ExportImage {
            manifest: one.clone(),
            names: vec![Reference::parse("busybox:1").unwrap()],
        },
        ExportImage {
            manifest: two.clone(),
            names: vec![Reference::parse("localhost:5000/team/app:2").unwrap()],
        },
    ];
    let path = dir.path().join("images.tar");
    std::fs::write(
        &path,
        write_archive(Vec::new(), &images, &mut blobs).unwrap(),
    )
    .unwrap();
    let file = path.to_str().unwrap();

    // OCI: skopeo finds each image by its ref name and returns berth's manifest bytes.
    for (tag, manifest) in [("1", &one), ("2", &two)] {
        let raw = run(&["inspect", "--raw", &format!("oci-archive:{file}:{tag}")]);
        assert_eq!(
            Digest::of(&raw).to_string(),
            manifest.digest().to_string(),
            "oci-archive:{tag}"
        );
    }

    // docker-archive: skopeo makes its own manifest; config and layers must be berth's.
    for (name, manifest) in [("busybox:1", &one), ("localhost:5000/team/app:2", &two)] {
        let ours: Value = serde_json::from_slice(
            blobs
                .get(&Digest::from_oci(manifest.digest()).unwrap())
                .unwrap(),
        )
        .unwrap();
        let source = format!("docker-archive:{file}:{name}");
        let theirs: Value = serde_json::from_slice(&run(&["inspect", "--raw", &source])).unwrap();
        assert_eq!(
            theirs["config"]["digest"], ours["config"]["digest"],
            "{name}"
        );
        assert_eq!(
            digest_strings(&theirs, "layers"),
            digest_strings(&ours, "layers"),
            "{name}"
        );
        let config = run(&["inspect", "--config", "--raw", &source]);
        assert_eq!(
            Value::String(Digest::of(&config).to_string()),
            ours["config"]["digest"]
        );
    }
}

/// Writes an OCI image layout directory holding one image tagged `tag`.
fn oci_layout(dir: &Path, blobs: &MemoryBlobs, manifest: &berth_oci::Descriptor, tag: &str) {
    let blob_dir = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blob_dir).unwrap();
    for digest in blobs.digests() {
        std::fs::write(blob_dir.join(digest.hex()), blobs.get(digest).unwrap()).unwrap();
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
        "mediaType": manifest.media_type().to_string(), "digest": manifest.digest().to_string(),
        "size": manifest.size(), "annotations": {"org.opencontainers.image.ref.name": tag}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

#[test]
fn berth_reads_what_skopeo_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut blobs = MemoryBlobs::new();
    let layer = layer_tar(&[("bin/sh", b"shell"), ("etc/hostname", b"skopeo")]);
    // Gzip layers, so skopeo has nothing to convert and keeps the manifest as is.
    let manifest = store_gzip_image(&mut blobs, &[&layer], "sh");
    let layout = dir.path().join("layout");
    oci_layout(&layout, &blobs, &manifest, "v1");
    let copied = dir.path().join("copied");
    let oci_tar = dir.path().join("oci.tar");
    let docker_tar = dir.path().join("docker.tar");
    let p = |p: &Path| p.to_str().unwrap().to_owned();
    run(&[
        "copy",
        "--insecure-policy",
        &format!("oci:{}:v1", p(&layout)),
        &format!("dir:{}", p(&copied)),
    ]);
    run(&[
        "copy",
        "--insecure-policy",
        &format!("dir:{}", p(&copied)),
        &format!("oci-archive:{}:example.com/app:v1", p(&oci_tar)),
    ]);
    run(&[
        "copy",
        "--insecure-policy",
        &format!("dir:{}", p(&copied)),
        &format!("docker-archive:{}:example.com/app:v1", p(&docker_tar)),
    ]);
    let name = Reference::parse("example.com/app:v1").unwrap();

    // oci-archive: the manifest survives byte for byte.
    let mut sink = MemoryBlobs::new();
    let file = std::fs::File::open(&oci_tar).unwrap();
    let contents = read_archive(file, &mut sink, &ArchiveLimits::default()).unwrap();
    assert_eq!(contents.images.len(), 1);
    let image = &contents.images[0];
    let (desc, bytes) = image.manifest.as_ref().unwrap();
    assert_eq!(desc.digest(), manifest.digest());
    let skopeo_raw = run(&["inspect", "--raw", &format!("oci-archive:{}", p(&oci_tar))]);
    assert_eq!(Digest::of(&skopeo_raw), Digest::of(bytes));
    assert_eq!(image.repo_tags, std::slice::from_ref(&name));
    for digest in blobs.digests() {
        assert_eq!(sink.get(digest), blobs.get(digest), "{digest}");
    }

    // docker-archive (skopeo's layout: <hex>.tar layers, <id>/layer.tar symlinks);
    // skopeo stores layers uncompressed there, so they are the config's diff IDs.
    let mut sink = MemoryBlobs::new();
    let file = std::fs::File::open(&docker_tar).unwrap();
    let contents = read_archive(file, &mut sink, &ArchiveLimits::default()).unwrap();
    assert_eq!(contents.images.len(), 1);
    let image = &contents.images[0];
    let ours: Value = serde_json::from_slice(
        blobs
            .get(&Digest::from_oci(manifest.digest()).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        Value::String(image.config.digest().to_string()),
        ours["config"]["digest"]
    );
    let layer_digests: Vec<String> = image
        .layers
        .iter()
        .map(|l| l.digest().to_string())
        .collect();
    assert_eq!(layer_digests, [Digest::of(&layer).to_string()]);
    assert_eq!(
        image.layers[0].media_type().to_string(),
        berth_oci::media_type::DOCKER_LAYER_TAR
    );
    assert_eq!(image.repo_tags, [name]);
    assert!(image.manifest.is_none());
}
