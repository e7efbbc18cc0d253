//! Image archives: berth writes and reads its own (two images sharing a layer, plus an
//! untagged one), reads legacy docker-archives (Docker < 25, with shared-layer
//! symlinks, gzip layers) and multi-platform OCI layouts.

mod common;

use berth_oci::manifest::descriptor_of;
use berth_oci::media_type::{
    DOCKER_CONFIG, DOCKER_LAYER_TAR, DOCKER_LAYER_TAR_GZIP, DOCKER_MANIFEST, OCI_INDEX,
    OCI_MANIFEST,
};
use berth_oci::{
    ArchiveLimits, Digest, ExportImage, Manifest, MemoryBlobs, Platform, Reference, WriteOptions,
    legacy_manifest, read_archive, write_archive, write_archive_with,
};
use common::{Raw, gzip, layer_tar, raw_tar, store_image, store_image_for, tar_file, tar_paths};
use serde_json::{Value, json};

fn refs(names: &[&str]) -> Vec<Reference> {
    names.iter().map(|n| Reference::parse(n).unwrap()).collect()
}

struct Fixture {
    blobs: MemoryBlobs,
    images: Vec<ExportImage>,
    shared: Vec<u8>,
}

fn fixture() -> Fixture {
    let mut blobs = MemoryBlobs::new();
    let shared = layer_tar(&[("bin/sh", b"shared shell")]);
    let first = layer_tar(&[("etc/one", b"1")]);
    let second = layer_tar(&[("etc/two", b"2")]);
    let a = store_image(&mut blobs, &[&shared, &first], "one");
    let b = store_image(&mut blobs, &[&shared, &second], "two");
    let c = store_image(&mut blobs, &[&second], "untagged");
    let images = vec![
        ExportImage {
            manifest: a,
            names: refs(&[
                "busybox:latest",
                "busybox:1",
                "busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ]),
        },
        ExportImage {
            manifest: b,
            names: refs(&["localhost:5000/team/app:2"]),
        },
        ExportImage {
            manifest: c,
            names: vec![],
        },
    ];
    Fixture {
        blobs,
        images,
        shared,
    }
}

#[test]
fn round_trip_keeps_digests_and_writes_each_blob_once() {
    let mut f = fixture();
    let archive = write_archive(Vec::new(), &f.images, &mut f.blobs).unwrap();

    // Each blob once, sorted, then the metadata, as Docker 25+ lays it out.
    let paths = tar_paths(&archive);
    let blob_paths: Vec<&String> = paths
        .iter()
        .filter(|p| p.starts_with("blobs/sha256/") && p.len() > 13)
        .collect();
    assert_eq!(blob_paths.len(), f.blobs.len(), "{paths:?}");
    let mut sorted = blob_paths.clone();
    sorted.sort();
    assert_eq!(sorted, blob_paths);
    assert_eq!(&paths[..2], ["blobs/", "blobs/sha256/"]);
    assert_eq!(
        &paths[paths.len() - 4..],
        ["index.json", "manifest.json", "oci-layout", "repositories"]
    );

    let mut sink = MemoryBlobs::new();
    let contents = read_archive(archive.as_slice(), &mut sink, &ArchiveLimits::default()).unwrap();
    assert_eq!(contents.images.len(), 3);
    for digest in f.blobs.digests() {
        assert_eq!(sink.put_count(digest), 1, "{digest} stored once");
        assert_eq!(sink.get(digest), f.blobs.get(digest));
    }
    assert_eq!(contents.blobs.len(), f.blobs.len());
    for (found, exported) in contents.images.iter().zip(&f.images) {
        let (desc, bytes) = found
            .manifest
            .as_ref()
            .expect("OCI archives carry manifests");
        assert_eq!(desc.digest(), exported.manifest.digest());
        assert_eq!(
            Digest::of(bytes).to_string(),
            exported.manifest.digest().to_string()
        );
        assert_eq!(found.platform.as_ref(), Some(&Platform::host()));
    }
    let names: Vec<Vec<String>> = contents
        .images
        .iter()
        .map(|i| i.repo_tags.iter().map(Reference::familiar).collect())
        .collect();
    assert_eq!(
        names,
        [
            vec!["busybox:latest", "busybox:1"],
            vec!["localhost:5000/team/app:2"],
            vec![]
        ]
    );
    let shared = Digest::of(&f.shared).to_string();
    assert_eq!(contents.images[0].layers[0].digest().to_string(), shared);
    assert_eq!(contents.images[1].layers[0].digest().to_string(), shared);
}

#[test]
fn archive_is_also_a_docker_archive() {
    let mut f = fixture();
    let archive = write_archive(Vec::new(), &f.images, &mut f.blobs).unwrap();
    let manifest: Value = serde_json::from_slice(&tar_file(&archive, "manifest.json")).unwrap();
    let first = &manifest[0];
    assert_eq!(first["RepoTags"], json!(["busybox:latest", "busybox:1"]));
    assert!(
        first["Config"]
            .as_str()
            .unwrap()
            .starts_with("blobs/sha256/")
    );
    assert_eq!(first["Layers"].as_array().unwrap().len(), 2);
    assert_eq!(manifest[2]["RepoTags"], Value::Null);
    let repositories: Value = serde_json::from_slice(&tar_file(&archive, "repositories")).unwrap();
    assert!(repositories["busybox"]["latest"].is_string());
    assert!(repositories["localhost:5000/team/app"]["2"].is_string());
    let index: Value = serde_json::from_slice(&tar_file(&archive, "index.json")).unwrap();
    assert_eq!(index["mediaType"], OCI_INDEX);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "one per name, the untagged image once");
    assert_eq!(
        entries[0]["annotations"]["io.containerd.image.name"],
        "docker.io/library/busybox:latest"
    );
    assert_eq!(
        entries[0]["annotations"]["org.opencontainers.image.ref.name"],
        "latest"
    );
    assert_eq!(
        entries[2]["annotations"]["io.containerd.image.name"],
        "localhost:5000/team/app:2"
    );
    assert!(entries[3].get("annotations").is_none());
    assert_eq!(
        tar_file(&archive, "oci-layout"),
        br#"{"imageLayoutVersion": "1.0.0"}"#
    );
}

#[test]
fn writing_is_deterministic() {
    let mut f = fixture();
    let one = write_archive(Vec::new(), &f.images, &mut f.blobs).unwrap();
    let two = write_archive(Vec::new(), &f.images, &mut f.blobs).unwrap();
    assert_eq!(one, two);
    let options = WriteOptions {
        mtime: 1_700_000_000,
        ..WriteOptions::default()
    };
    let dated = write_archive_with(Vec::new(), &f.images, &mut f.blobs, &options).unwrap();
    let mut archive = tar::Archive::new(dated.as_slice());
    for entry in archive.entries().unwrap() {
        let header = entry.unwrap().header().clone();
        assert_eq!(header.mtime().unwrap(), 1_700_000_000);
        assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0));
        let mode = header.mode().unwrap();
        assert!(mode == 0o644 || mode == 0o755, "{mode:o}");
    }
}

#[test]
fn writer_refuses_corrupt_store_blobs() {
    let f = fixture();
    let mut corrupt = MemoryBlobs::new();
    // Same manifests and configs, but the shared layer replaced by other bytes.
    for digest in f.blobs.digests().cloned().collect::<Vec<_>>() {
        corrupt.insert(f.blobs.get(&digest).unwrap().to_vec());
    }
    let mut source = Tampered {
        inner: &mut corrupt,
        target: Digest::of(&f.shared),
    };
    let err = write_archive(Vec::new(), &f.images[..1], &mut source).unwrap_err();
    assert!(err.to_string().contains("has digest"), "{err}");
}

/// A source that serves wrong bytes (same length) for one digest.
struct Tampered<'a> {
    inner: &'a mut MemoryBlobs,
    target: Digest,
}

impl berth_oci::BlobSource for Tampered<'_> {
    fn open(&mut self, digest: &Digest) -> berth_oci::Result<(u64, Box<dyn std::io::Read + '_>)> {
        if *digest == self.target {
            let len = self.inner.get(digest).unwrap().len();
            let wrong = std::io::Read::take(std::io::repeat(b'x'), len as u64);
            return Ok((len as u64, Box::new(wrong)));
        }
        self.inner.open(digest)
    }
}

#[test]
fn reads_legacy_docker_archives() {
    let base = layer_tar(&[("bin/sh", b"sh")]);
    let top = gzip(&layer_tar(&[("etc/motd", b"hi")]));
    let config1 =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let config2 = br#"{"architecture":"arm64","os":"linux","variant":"v8","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let c1 = format!("{}.json", Digest::of(&config1).hex());
    let c2 = format!("{}.json", Digest::of(&config2).hex());
    let manifest = format!(
        r#"[{{"Config":"{c1}","RepoTags":["busybox:latest"],"Layers":["bbb/layer.tar"]}},
            {{"Config":"{c2}","RepoTags":null,"Layers":["aaa/layer.tar","ccc/layer.tar"]}}]"#
    );
    // Docker < 25 links a layer shared by two images; the link sorts before its target.
    let archive = raw_tar(&[
        Raw::Dir(b"aaa/"),
        Raw::Symlink(b"aaa/layer.tar", b"../bbb/layer.tar"),
        Raw::File(b"aaa/VERSION", b"1.0"),
        Raw::Dir(b"bbb/"),
        Raw::File(b"bbb/json", b"{}"),
        Raw::File(b"bbb/layer.tar", &base),
        Raw::File(b"ccc/layer.tar", &top),
        Raw::File(c1.as_bytes(), &config1),
        Raw::File(c2.as_bytes(), &config2),
        Raw::File(b"manifest.json", manifest.as_bytes()),
        Raw::File(b"repositories", br#"{"busybox":{"latest":"bbb"}}"#),
    ]);
    let mut sink = MemoryBlobs::new();
    let contents = read_archive(archive.as_slice(), &mut sink, &ArchiveLimits::default()).unwrap();
    assert_eq!(contents.images.len(), 2);
    let [one, two] = &contents.images[..] else {
        unreachable!()
    };
    assert!(one.manifest.is_none());
    assert_eq!(one.repo_tags, refs(&["busybox:latest"]));
    assert_eq!(
        one.config.digest().to_string(),
        Digest::of(&config1).to_string()
    );
    assert_eq!(one.config.media_type().to_string(), DOCKER_CONFIG);
    assert_eq!(one.layers[0].media_type().to_string(), DOCKER_LAYER_TAR);
    assert_eq!(
        one.layers[0].digest().to_string(),
        Digest::of(&base).to_string()
    );
    assert_eq!(one.platform, Some(Platform::new("linux", "amd64", None)));
    assert!(two.repo_tags.is_empty());
    assert_eq!(
        two.layers[0].digest(),
        one.layers[0].digest(),
        "the symlinked layer"
    );
    assert_eq!(
        two.layers[1].media_type().to_string(),
        DOCKER_LAYER_TAR_GZIP
    );
    assert_eq!(
        two.platform,
        Some(Platform::new("linux", "arm64", Some("v8")))
    );
    assert_eq!(sink.put_count(&Digest::of(&base)), 1);
    assert_eq!(sink.len(), 4);

    // The manifest made for a legacy image is Docker schema 2 and deterministic.
    let (desc, bytes) = legacy_manifest(one).unwrap();
    assert_eq!(desc.media_type().to_string(), DOCKER_MANIFEST);
    assert_eq!(legacy_manifest(one).unwrap().1, bytes);
    assert_eq!(desc.digest().to_string(), Digest::of(&bytes).to_string());
    let Manifest::Image(parsed) = Manifest::parse(&bytes, Some(DOCKER_MANIFEST)).unwrap() else {
        panic!("not a manifest")
    };
    assert_eq!(parsed.config(), &one.config);
}

#[test]
fn legacy_manifest_is_oci_when_layers_are_not_docker_types() {
    let mut image = berth_oci::ArchiveImage {
        config: descriptor_of(DOCKER_CONFIG, b"{}"),
        layers: vec![descriptor_of(
            berth_oci::media_type::OCI_LAYER_TAR_ZSTD,
            b"z",
        )],
        manifest: None,
        repo_tags: vec![],
        platform: None,
        index: None,
    };
    let (desc, bytes) = legacy_manifest(&image).unwrap();
    assert_eq!(desc.media_type().to_string(), OCI_MANIFEST);
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.contains("application/vnd.oci.image.config.v1+json"),
        "{text}"
    );
    image.layers[0] = descriptor_of("application/json", b"z");
    assert!(legacy_manifest(&image).is_err());
}

#[test]
fn picks_a_platform_from_a_multi_platform_archive() {
    let mut blobs = MemoryBlobs::new();
    let amd = layer_tar(&[("amd", b"x86")]);
    let arm = layer_tar(&[("arm", b"arm")]);
    let amd64 = store_image_for(
        &mut blobs,
        &[&amd],
        "amd",
        &Platform::new("linux", "amd64", None),
    );
    let arm64 = store_image_for(
        &mut blobs,
        &[&arm],
        "arm",
        &Platform::new("linux", "arm64", Some("v8")),
    );
    let entry = |d: &berth_oci::Descriptor, arch: &str| {
        json!({"mediaType": OCI_MANIFEST, "digest": d.digest().to_string(), "size": d.size(),
               "platform": {"os": "linux", "architecture": arch}})
    };
    let missing = descriptor_of(OCI_MANIFEST, b"absent s390x manifest");
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [entry(&amd64, "amd64"), entry(&arm64, "arm64"), entry(&missing, "s390x")]}))
    .unwrap();
    let index_desc = descriptor_of(OCI_INDEX, &index);
    let top = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_INDEX, "digest": index_desc.digest().to_string(), "size": index_desc.size(),
         "annotations": {"org.opencontainers.image.ref.name": "example.com/multi:3"}}]})).unwrap();
    let mut entries: Vec<(String, Vec<u8>)> = blobs
        .digests()
        .map(|d| {
            (
                format!("blobs/sha256/{}", d.hex()),
                blobs.get(d).unwrap().to_vec(),
            )
        })
        .collect();
    entries.push((
        format!("blobs/sha256/{}", Digest::of(&index).hex()),
        index.clone(),
    ));
    entries.push(("index.json".into(), top));
    entries.push((
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    ));
    let raws: Vec<Raw<'_>> = entries
        .iter()
        .map(|(p, d)| Raw::File(p.as_bytes(), d))
        .collect();
    let archive = raw_tar(&raws);

    let mut sink = MemoryBlobs::new();
    let contents = read_archive(archive.as_slice(), &mut sink, &ArchiveLimits::default()).unwrap();
    assert_eq!(contents.indexes.len(), 1);
    assert_eq!(
        contents.indexes[0].repo_tags,
        refs(&["example.com/multi:3"])
    );
    assert_eq!(
        contents.images.len(),
        2,
        "the absent s390x manifest is skipped"
    );
    let pick = |p: &str| contents.images_for(&Platform::parse(p).unwrap());
    let on_arm = pick("linux/arm64/v8");
    assert_eq!(on_arm.len(), 1);
    assert_eq!(
        on_arm[0].manifest.as_ref().unwrap().0.digest(),
        arm64.digest()
    );
    assert_eq!(on_arm[0].repo_tags, refs(&["example.com/multi:3"]));
    assert_eq!(
        pick("linux/amd64")[0].manifest.as_ref().unwrap().0.digest(),
        amd64.digest()
    );
    assert!(pick("linux/ppc64le").is_empty());
}
