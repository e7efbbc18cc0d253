//! Hostile layers: each is refused with a clear error, nothing outside the target
//! changes, and `apply_to_new_dir` leaves no final (or staging) directory behind.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;

use berth_layer::{ApplyOptions, Compression, LayerError, Limit, Limits, apply, apply_to_new_dir};
use common::{Entry, Sandbox, TarBuilder, gzip, zstd};

fn opts() -> ApplyOptions {
    ApplyOptions {
        sync: false,
        ..ApplyOptions::default()
    }
}

/// Applies `layer` both ways and hands each error to `check`.
fn refused_with(layer: &[u8], opts: &ApplyOptions, check: impl Fn(&LayerError)) {
    let sandbox = Sandbox::with_target();
    let err = apply(layer, &sandbox.target, opts).expect_err("apply accepted a hostile layer");
    check(&err);
    sandbox.assert_outside_untouched();

    let sandbox = Sandbox::new();
    let err = apply_to_new_dir(layer, &sandbox.target, opts)
        .expect_err("apply_to_new_dir accepted a hostile layer");
    check(&err);
    assert!(!sandbox.target.exists(), "the final directory appeared");
    sandbox.assert_outside_untouched();
}

/// Builds the layer with knowledge of the sandbox paths (the canary's absolute path),
/// which are the same for both runs only if we build per sandbox: so the builder gets
/// the canary path of each run.
fn refused_in_sandbox(
    build: impl Fn(&Sandbox) -> Vec<u8>,
    opts: &ApplyOptions,
    check: impl Fn(&LayerError),
) {
    let sandbox = Sandbox::with_target();
    let err = apply(&build(&sandbox)[..], &sandbox.target, opts).expect_err("apply accepted it");
    check(&err);
    sandbox.assert_outside_untouched();

    let sandbox = Sandbox::new();
    let err = apply_to_new_dir(&build(&sandbox)[..], &sandbox.target, opts)
        .expect_err("apply_to_new_dir accepted it");
    check(&err);
    assert!(!sandbox.target.exists(), "the final directory appeared");
    sandbox.assert_outside_untouched();
}

fn escape(path: &str) -> impl Fn(&LayerError) + '_ {
    move |err| {
        assert!(matches!(err, LayerError::Escape { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("{path:?}")), "{msg}");
        assert!(msg.contains("escapes the target directory"), "{msg}");
    }
}

fn through_symlink(err: &LayerError) {
    assert!(matches!(err, LayerError::ThroughSymlink { .. }), "{err}");
    assert!(err.to_string().contains("never follows symlinks"), "{err}");
}

fn bad_hardlink(reason: &'static str) -> impl Fn(&LayerError) {
    move |err| {
        assert!(matches!(err, LayerError::BadHardlink { .. }), "{err}");
        assert!(err.to_string().contains(reason), "{err}");
    }
}

fn limit(expected: Limit) -> impl Fn(&LayerError) {
    move |err| match err {
        LayerError::LimitExceeded { limit, .. } => {
            assert_eq!(*limit, expected, "{err}");
            assert!(err.to_string().contains(expected.field_name()), "{err}");
        }
        other => panic!("expected a {expected} limit error, got {other}"),
    }
}

fn truncated(err: &LayerError) {
    assert!(matches!(err, LayerError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

fn decompress(compression: Compression) -> impl Fn(&LayerError) {
    move |err| match err {
        LayerError::Decompress { compression: c, .. } => {
            assert_eq!(*c, compression);
            assert!(err.to_string().contains("corrupt or truncated"), "{err}");
        }
        other => panic!("expected a {compression} error, got {other}"),
    }
}

#[test]
fn dot_dot_path() {
    let layer = TarBuilder::new().file("../canary/pwned", b"x").finish();
    refused_with(&layer, &opts(), escape("../canary/pwned"));
}

#[test]
fn dot_dot_in_the_middle() {
    let layer = TarBuilder::new()
        .dir("a")
        .file("a/../../canary/pwned", b"x")
        .finish();
    refused_with(&layer, &opts(), escape("a/../../canary/pwned"));
}

#[test]
fn absolute_path() {
    refused_in_sandbox(
        |s| {
            TarBuilder::new()
                .file(&format!("{}/pwned", s.canary_str()), b"x")
                .finish()
        },
        &opts(),
        |err| {
            assert!(
                matches!(
                    err,
                    LayerError::Escape {
                        reason: "absolute path",
                        ..
                    }
                ),
                "{err}"
            );
        },
    );
}

#[test]
fn file_through_a_planted_symlink() {
    refused_in_sandbox(
        |s| {
            TarBuilder::new()
                .symlink("a", &s.canary_str())
                .file("a/pwned", b"x")
                .finish()
        },
        &opts(),
        through_symlink,
    );
}

#[test]
fn file_through_a_symlink_to_dot_dot() {
    let layer = TarBuilder::new()
        .symlink("up", "..")
        .file("up/canary/keep.txt", b"overwritten")
        .finish();
    refused_with(&layer, &opts(), through_symlink);
}

#[test]
fn directory_through_a_symlink_chain() {
    refused_in_sandbox(
        |s| {
            TarBuilder::new()
                .symlink("a", "b")
                .symlink("b", &s.canary_str())
                .dir("a/sub")
                .file("a/sub/pwned", b"x")
                .finish()
        },
        &opts(),
        through_symlink,
    );
}

#[test]
fn hardlink_to_etc_passwd() {
    let before = fs::metadata("/etc/passwd").unwrap().nlink();
    let layer = TarBuilder::new().hardlink("passwd", "/etc/passwd").finish();
    refused_with(&layer, &opts(), bad_hardlink("outside the layer root"));
    assert_eq!(fs::metadata("/etc/passwd").unwrap().nlink(), before);
}

#[test]
fn hardlink_to_dot_dot() {
    let layer = TarBuilder::new()
        .hardlink("stolen", "../canary/keep.txt")
        .finish();
    refused_with(&layer, &opts(), bad_hardlink("outside the layer root"));
}

#[test]
fn hardlink_to_a_symlink_pointing_outside() {
    refused_in_sandbox(
        |s| {
            TarBuilder::new()
                .symlink("s", &format!("{}/keep.txt", s.canary_str()))
                .hardlink("h", "s")
                .finish()
        },
        &opts(),
        bad_hardlink("not a regular file"),
    );
}

#[test]
fn hardlink_through_a_symlinked_directory() {
    refused_in_sandbox(
        |s| {
            TarBuilder::new()
                .symlink("d", &s.canary_str())
                .hardlink("h", "d/keep.txt")
                .finish()
        },
        &opts(),
        bad_hardlink("goes through a symlink"),
    );
}

#[test]
fn device_node_when_not_allowed() {
    let layer = TarBuilder::new()
        .entry(Entry {
            dev: (1, 3),
            ..Entry::new("null", tar::EntryType::Char)
        })
        .finish();
    refused_with(&layer, &opts(), |err| {
        assert!(matches!(err, LayerError::DeviceNotAllowed { .. }), "{err}");
        assert!(err.to_string().contains("allow_devices"), "{err}");
    });

    // Allowed, it is created.
    let tmp = tempfile::tempdir().unwrap();
    let allow = ApplyOptions {
        allow_devices: true,
        ..opts()
    };
    apply(&layer[..], tmp.path(), &allow).unwrap();
    assert_eq!(
        fs::symlink_metadata(tmp.path().join("null"))
            .unwrap()
            .rdev(),
        libc_makedev(1, 3)
    );
}

fn libc_makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xfffff000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffffff00) << 12)
        | (minor & 0xff)
}

#[test]
fn absurd_size_header() {
    // A base-256 size of 2^62 bytes: refused before reading a byte of content.
    let mut header = tar::Header::new_gnu();
    header.set_path("huge").unwrap();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(1 << 62);
    header.set_cksum();
    let layer = TarBuilder::new()
        .raw(header.as_bytes())
        .raw(&[0u8; 1024])
        .finish();
    refused_with(&layer, &opts(), limit(Limit::FileSize));

    // Within the limit but far beyond the stream: truncated, not hung or allocated.
    header.set_size(8 << 30);
    header.set_cksum();
    let layer = TarBuilder::new()
        .raw(header.as_bytes())
        .raw(&[0u8; 1024])
        .finish();
    refused_with(&layer, &opts(), truncated);
}

#[test]
fn too_many_entries() {
    let mut builder = TarBuilder::new();
    for i in 0..10 {
        builder.file(&format!("f{i}"), b"x");
    }
    let opts = ApplyOptions {
        limits: Limits {
            max_entries: 5,
            ..Limits::default()
        },
        ..opts()
    };
    refused_with(&builder.finish(), &opts, limit(Limit::Entries));
}

#[test]
fn path_too_long() {
    let long = "d/".repeat(2100) + "f";
    let layer = TarBuilder::new()
        .pax(&[("path", long.as_bytes())])
        .file("placeholder", b"x")
        .finish();
    refused_with(&layer, &opts(), limit(Limit::PathLength));
}

#[test]
fn truncated_tar() {
    let layer = TarBuilder::new()
        .file("a", b"complete")
        .file("b", &[1u8; 5000])
        .finish();
    // Inside the content of b.
    refused_with(&layer[..512 * 2 + 512 + 2000], &opts(), truncated);
    // At a block boundary, right after a member: no end-of-archive marker.
    refused_with(&layer[..1024], &opts(), truncated);
}

#[test]
fn truncated_gzip() {
    let tar = TarBuilder::new().file("a", &[5u8; 100_000]).finish();
    let gz = gzip(&tar);
    refused_with(&gz[..gz.len() / 2], &opts(), decompress(Compression::Gzip));
    // Only the trailer (CRC and size) missing.
    refused_with(&gz[..gz.len() - 4], &opts(), decompress(Compression::Gzip));
}

#[test]
fn corrupt_zstd() {
    let tar = TarBuilder::new().file("a", &[5u8; 100_000]).finish();
    let zst = zstd(&tar);
    // A reserved bit set in the frame header descriptor.
    let mut bad_header = zst.clone();
    bad_header[4] |= 0x08;
    refused_with(&bad_header, &opts(), decompress(Compression::Zstd));
    // Content intact, checksum wrong: caught when the stream is read to its end.
    let mut bad_checksum = zst.clone();
    let last = bad_checksum.len() - 1;
    bad_checksum[last] ^= 0xff;
    refused_with(&bad_checksum, &opts(), decompress(Compression::Zstd));
    // Garbage in the middle: refused, as corrupt zstd or as the corrupt tar it decodes to.
    let mut garbled = zst;
    let mid = garbled.len() / 2;
    for b in &mut garbled[mid..mid + 4] {
        *b ^= 0x5a;
    }
    refused_with(&garbled, &opts(), |err| {
        assert!(
            matches!(
                err,
                LayerError::Decompress { .. } | LayerError::CorruptTar { .. }
            ),
            "{err}"
        );
    });
}

#[test]
fn gzip_bomb_hits_the_total_size_limit() {
    // 256 MiB of zeros inside a ~250 KiB gzip stream.
    let size: u64 = 256 << 20;
    let mut header = tar::Header::new_ustar();
    header.set_path("bomb").unwrap();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(size);
    header.set_cksum();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(header.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..(size >> 20) {
        enc.write_all(&zeros).unwrap();
    }
    enc.write_all(&[0u8; 1024]).unwrap();
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 2 << 20);

    let opts = ApplyOptions {
        limits: Limits {
            max_total_bytes: 16 << 20,
            ..Limits::default()
        },
        ..opts()
    };
    refused_with(&bomb, &opts, limit(Limit::TotalBytes));
}

#[test]
fn a_corrupt_header_checksum() {
    let mut layer = TarBuilder::new().file("a", b"x").finish();
    layer[0] = b'b';
    refused_with(&layer, &opts(), |err| {
        assert!(matches!(err, LayerError::CorruptTar { .. }), "{err}");
    });
}

#[test]
fn xz_layers_are_named() {
    refused_with(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0, 0], &opts(), |err| {
        assert!(
            matches!(err, LayerError::UnsupportedCompression("xz")),
            "{err}"
        );
    });
}

#[test]
fn overlay_xattrs_from_the_archive_are_dropped() {
    let layer = TarBuilder::new()
        .pax(&[
            ("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
            ("SCHILY.xattr.user.ok", b"1"),
        ])
        .dir("d")
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    let stats = apply(&layer[..], tmp.path(), &opts()).unwrap();
    assert_eq!(stats.skipped_xattrs, 1);
    let d = tmp.path().join("d");
    assert_eq!(xattr::get(&d, "trusted.overlay.redirect").unwrap(), None);
    assert_eq!(
        xattr::get(&d, "user.ok").unwrap().as_deref(),
        Some(&b"1"[..])
    );
}

#[test]
fn an_existing_final_dir_is_never_replaced() {
    let sandbox = Sandbox::new();
    fs::create_dir(&sandbox.target).unwrap();
    fs::write(sandbox.target.join("mine"), b"mine").unwrap();
    let layer = TarBuilder::new().file("mine", b"theirs").finish();
    let err = apply_to_new_dir(&layer[..], &sandbox.target, &opts()).unwrap_err();
    assert!(matches!(err, LayerError::AlreadyExists { .. }), "{err}");
    assert_eq!(fs::read(sandbox.target.join("mine")).unwrap(), b"mine");
}
