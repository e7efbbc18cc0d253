//! Hostile and broken archives: every one fails with an error that says what is wrong,
//! and nothing outside the sink is touched.

mod common;

use berth_oci::{
    ArchiveLimits, Digest, ExportImage, MemoryBlobs, Reference, read_archive, write_archive,
};
use common::{Raw, layer_tar, raw_header, raw_tar, store_image};

fn read_err(archive: &[u8], limits: &ArchiveLimits) -> String {
    let mut sink = MemoryBlobs::new();
    match read_archive(archive, &mut sink, limits) {
        Ok(contents) => panic!("accepted a bad archive: {contents:?}"),
        Err(e) => e.to_string(),
    }
}

fn expect(archive: &[u8], want: &str) {
    let err = read_err(archive, &ArchiveLimits::default());
    assert!(err.contains(want), "got {err:?}, want {want:?}");
}

fn good_archive() -> Vec<u8> {
    let mut blobs = MemoryBlobs::new();
    let layer = layer_tar(&[("bin/sh", &[7u8; 3000])]);
    let manifest = store_image(&mut blobs, &[&layer], "sh");
    let images = [ExportImage {
        manifest,
        names: vec![Reference::parse("busybox").unwrap()],
    }];
    write_archive(Vec::new(), &images, &mut blobs).unwrap()
}

const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn the_good_archive_reads() {
    let mut sink = MemoryBlobs::new();
    read_archive(
        good_archive().as_slice(),
        &mut sink,
        &ArchiveLimits::default(),
    )
    .unwrap();
}

#[test]
fn path_traversal_is_refused() {
    expect(
        &raw_tar(&[Raw::File(b"../evil", b"x")]),
        "climbs out with '..'",
    );
    expect(
        &raw_tar(&[Raw::File(b"blobs/../../evil", b"x")]),
        "climbs out with '..'",
    );
    expect(
        &raw_tar(&[Raw::File(b"/etc/passwd", b"x")]),
        "absolute path",
    );
}

#[test]
fn links_and_devices_are_refused() {
    let blob = format!("blobs/sha256/{HEX}");
    expect(
        &raw_tar(&[Raw::Symlink(blob.as_bytes(), b"/etc/passwd")]),
        "is a symlink",
    );
    expect(
        &raw_tar(&[Raw::Symlink(b"manifest.json", b"x.json")]),
        "is a symlink",
    );
    expect(
        &raw_tar(&[Raw::Symlink(b"abc/layer.tar", b"../../etc/passwd")]),
        "points outside the archive",
    );
    expect(
        &raw_tar(&[Raw::Symlink(b"abc/layer.tar", b"/etc/passwd")]),
        "absolute path",
    );
    expect(
        &raw_tar(&[Raw::HardLink(b"abc/layer.tar", b"def/layer.tar")]),
        "is a hard link",
    );
    expect(
        &raw_tar(&[Raw::Typed(b'3', b"dev/tty", b"")]),
        "has tar type '3'",
    );
    expect(
        &raw_tar(&[Raw::Typed(b'6', b"fifo", b"")]),
        "has tar type '6'",
    );
}

#[test]
fn a_symlink_to_a_missing_layer_is_refused() {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let name = format!("{}.json", Digest::of(config).hex());
    let manifest = format!(r#"[{{"Config":"{name}","RepoTags":[],"Layers":["abc/layer.tar"]}}]"#);
    let archive = raw_tar(&[
        Raw::Symlink(b"abc/layer.tar", b"../nowhere/layer.tar"),
        Raw::File(name.as_bytes(), config),
        Raw::File(b"manifest.json", manifest.as_bytes()),
    ]);
    expect(
        &archive,
        "refers to \"abc/layer.tar\", which is not in the archive",
    );
}

#[test]
fn limits_hold() {
    let dirs: Vec<Vec<u8>> = (0..11).map(|i| format!("d{i}/").into_bytes()).collect();
    let raws: Vec<Raw<'_>> = dirs.iter().map(|d| Raw::Dir(d)).collect();
    let few = ArchiveLimits {
        max_entries: 10,
        ..ArchiveLimits::default()
    };
    assert!(read_err(&raw_tar(&raws), &few).contains("more than 10 entries"));

    let small = ArchiveLimits {
        max_metadata_bytes: 100,
        ..ArchiveLimits::default()
    };
    let big = vec![b' '; 101];
    assert!(
        read_err(&raw_tar(&[Raw::File(b"manifest.json", &big)]), &small)
            .contains("manifest.json is 101 bytes")
    );

    let short = ArchiveLimits {
        max_path_bytes: 20,
        ..ArchiveLimits::default()
    };
    assert!(
        read_err(
            &raw_tar(&[Raw::File(b"a-rather-long-file-name", b"")]),
            &short
        )
        .contains("entry path of 23 bytes")
    );

    // A PAX header claiming 2 GiB is refused before anything is read into memory.
    let mut archive = raw_header(b'x', b"PaxHeader", b"", 2 << 30).to_vec();
    archive.extend_from_slice(&[0u8; 1024]);
    expect(&archive, "a tar extension header of 2147483648 bytes");
}

#[test]
fn blobs_must_match_their_digest() {
    let path = format!("blobs/sha256/{HEX}");
    let archive = raw_tar(&[Raw::File(path.as_bytes(), b"not empty")]);
    let err = read_err(&archive, &ArchiveLimits::default());
    assert!(err.contains(&format!("expected sha256:{HEX}")), "{err}");
    assert!(err.contains("corrupt or was tampered with"), "{err}");
    expect(
        &raw_tar(&[Raw::File(b"blobs/sha256/abc", b"")]),
        "is not named by a digest",
    );
    expect(
        &raw_tar(&[Raw::File(
            format!("blobs/md5/{}", "0".repeat(32)).as_bytes(),
            b"",
        )]),
        "berth handles sha256 digests only",
    );
}

#[test]
fn references_to_missing_files_are_refused() {
    expect(
        &raw_tar(&[Raw::File(
            b"manifest.json",
            br#"[{"Config":"nope.json","RepoTags":["a:b"],"Layers":[]}]"#,
        )]),
        "refers to \"nope.json\", which is not in the archive",
    );
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{HEX}","size":0}}]}}"#
    );
    expect(
        &raw_tar(&[Raw::File(b"index.json", index.as_bytes())]),
        &format!("missing blob sha256:{HEX}"),
    );
    expect(
        &raw_tar(&[Raw::File(
            b"oci-layout",
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )]),
        "not an image archive",
    );
    expect(
        &raw_tar(&[Raw::File(b"repositories", b"{}")]),
        "pre-1.10 Docker archive",
    );
}

#[test]
fn names_in_the_archive_are_validated() {
    let archive = raw_tar(&[
        Raw::File(
            b"manifest.json",
            br#"[{"Config":"x.json","RepoTags":["Bad:Name"],"Layers":[]}]"#,
        ),
        Raw::File(b"x.json", b"{}"),
    ]);
    expect(&archive, "invalid RepoTag \"Bad:Name\"");
}

#[test]
fn truncated_archives_are_refused() {
    let good = good_archive();
    // Cut inside the layer blob, inside a header, and just before the metadata.
    expect(&good[..2500], "truncated");
    expect(&good[..1024 + 100], "truncated");
    // Cut between two entries: the end-of-archive marker is missing, so the archive is
    // truncated, not merely without its metadata.
    let mut cut = good.clone();
    let metadata_at = cut.windows(10).position(|w| w == b"index.json").unwrap();
    cut.truncate(metadata_at);
    expect(&cut, "without an end-of-archive marker");
}

#[test]
fn malformed_tars_are_refused() {
    expect(&[0x42u8; 1024], "checksum");
    let twice = raw_tar(&[
        Raw::File(b"manifest.json", b"[]"),
        Raw::File(b"./manifest.json", b"[]"),
    ]);
    expect(&twice, "appears twice");
    let mut with_data = raw_header(b'2', b"abc/layer.tar", b"../x/layer.tar", 512).to_vec();
    with_data.extend_from_slice(&[0u8; 1536]);
    expect(&with_data, "claims 512 bytes of data");
    expect(
        &raw_tar(&[Raw::File(b"index.json", b"{not json")]),
        "not a JSON manifest",
    );
    expect(
        &raw_tar(&[Raw::File(b"manifest.json", b"{}")]),
        "manifest.json is not valid",
    );
    expect(
        &raw_tar(&[
            Raw::File(b"oci-layout", br#"{"imageLayoutVersion":"9"}"#),
            Raw::File(b"index.json", b""),
        ]),
        "OCI layout version \"9\"",
    );
}
