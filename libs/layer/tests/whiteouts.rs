//! Whiteouts and opaque directories: OCI (delete in place), overlay upper-dir diffs
//! with a real overlayfs mount, and the overlay apply mode honoured by a real mount.

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_layer::{ApplyOptions, DiffOptions, DiffSource, LayerError, WhiteoutFormat, apply, diff};
use common::{OverlayMount, TarBuilder, snapshot};

fn opts(format: WhiteoutFormat) -> ApplyOptions {
    ApplyOptions {
        whiteout_format: format,
        sync: false,
        ..ApplyOptions::default()
    }
}

fn apply_all(target: &Path, layers: &[&[u8]]) {
    for layer in layers {
        apply(*layer, target, &opts(WhiteoutFormat::Oci)).unwrap();
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = snapshot(dir).into_keys().collect();
    names.sort();
    names
}

#[test]
fn a_whiteout_hides_the_file_but_the_lower_layer_keeps_it() {
    let secret = b"hunter2 - the lower layer keeps this byte for byte";
    let layer1 = TarBuilder::new()
        .file("secret.txt", secret)
        .file("public.txt", b"hello")
        .dir("cache")
        .file("cache/blob", b"x")
        .finish();
    let layer2 = TarBuilder::new()
        .file(".wh.secret.txt", b"")
        .file(".wh.cache", b"")
        .file(".wh.never-existed", b"")
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    let stats = apply(&layer2[..], tmp.path(), &opts(WhiteoutFormat::Oci)).unwrap();
    assert_eq!(stats.whiteouts, 3, "whiteouts on an empty dir are no-ops");

    let root = tmp.path().join("root");
    fs::create_dir(&root).unwrap();
    apply_all(&root, &[&layer1, &layer2]);
    assert_eq!(listing(&root), ["public.txt"]);

    let mut archive = tar::Archive::new(&layer1[..]);
    let mut found = false;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some("secret.txt") {
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            assert_eq!(content, secret);
            found = true;
        }
    }
    assert!(found, "layer 1 still holds the secret");
}

#[test]
fn an_opaque_dir_keeps_only_this_layers_content_in_either_order() {
    let layer1 = TarBuilder::new()
        .dir("d")
        .file("d/a", b"a")
        .dir("d/sub")
        .file("d/sub/x", b"x")
        .file("outside", b"o")
        .finish();
    let marker_first = TarBuilder::new()
        .dir("d")
        .file("d/.wh..wh..opq", b"")
        .file("d/b", b"b")
        .file("d/sub/y", b"y")
        .finish();
    let marker_last = TarBuilder::new()
        .dir("d")
        .file("d/b", b"b")
        .file("d/sub/y", b"y")
        .file("d/.wh..wh..opq", b"")
        .finish();
    for (name, layer2) in [
        ("marker first", &marker_first),
        ("marker last", &marker_last),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        apply_all(tmp.path(), &[&layer1, layer2]);
        assert_eq!(
            listing(tmp.path()),
            ["d", "d/b", "d/sub", "d/sub/y", "outside"],
            "{name}"
        );
    }
}

#[test]
fn a_whiteout_only_hides_lower_layers() {
    let layer1 = TarBuilder::new().dir("d").file("d/old", b"1").finish();
    // This layer replaces d/old's directory and whites out d: its own d/new stays.
    let layer2 = TarBuilder::new()
        .file("d/new", b"2")
        .file(".wh.d", b"")
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    apply_all(tmp.path(), &[&layer1, &layer2]);
    assert_eq!(listing(tmp.path()), ["d", "d/new"]);
}

#[test]
fn a_whiteout_under_a_symlink_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    fs::create_dir(&victim).unwrap();
    fs::write(victim.join("file"), b"keep").unwrap();
    let root = tmp.path().join("root");
    fs::create_dir(&root).unwrap();
    let layer1 = TarBuilder::new()
        .symlink("link", victim.to_str().unwrap())
        .finish();
    let layer2 = TarBuilder::new().file("link/.wh.file", b"").finish();
    apply(&layer1[..], &root, &opts(WhiteoutFormat::Oci)).unwrap();
    let err = apply(&layer2[..], &root, &opts(WhiteoutFormat::Oci)).unwrap_err();
    assert!(matches!(err, LayerError::ThroughSymlink { .. }), "{err}");
    assert_eq!(fs::read(victim.join("file")).unwrap(), b"keep");
}

/// Builds lower/upper/work/merged in `base`, with content in lower.
fn overlay_dirs(base: &Path) -> [std::path::PathBuf; 4] {
    let dirs = ["lower", "upper", "work", "merged"].map(|n| base.join(n));
    for d in &dirs {
        fs::create_dir(d).unwrap();
    }
    let lower = &dirs[0];
    fs::write(lower.join("gone.txt"), b"delete me").unwrap();
    fs::write(lower.join("keep.txt"), b"keep me").unwrap();
    fs::create_dir(lower.join("replaced")).unwrap();
    fs::write(lower.join("replaced/old1"), b"old").unwrap();
    fs::create_dir(lower.join("kept")).unwrap();
    fs::write(lower.join("kept/a"), b"a").unwrap();
    dirs
}

#[test]
fn an_overlay_upper_dir_diffs_into_oci_whiteouts() {
    let tmp = tempfile::tempdir().unwrap();
    let [lower, upper, work, merged] = overlay_dirs(tmp.path());
    let merged_view = {
        let _mount = OverlayMount::new(&[&lower], &upper, &work, &merged);
        fs::remove_file(merged.join("gone.txt")).unwrap();
        fs::remove_dir_all(merged.join("replaced")).unwrap();
        fs::create_dir(merged.join("replaced")).unwrap();
        fs::write(merged.join("replaced/new"), b"new").unwrap();
        fs::write(merged.join("kept/b"), b"b").unwrap();
        snapshot(&merged)
    }; // unmounted here, and on panic too

    let mut upper_layer = Vec::new();
    let upper_opts = DiffOptions {
        source: DiffSource::OverlayUpper,
        ..DiffOptions::default()
    };
    diff(&upper, &mut upper_layer, &upper_opts).unwrap();
    let mut archive = tar::Archive::new(&upper_layer[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            ".wh.gone.txt",
            "kept/",
            "kept/b",
            "replaced/",
            "replaced/.wh..wh..opq",
            "replaced/new"
        ]
    );

    // Lower layer + upper layer applied in place == what the mount showed.
    let mut lower_layer = Vec::new();
    diff(&lower, &mut lower_layer, &DiffOptions::default()).unwrap();
    let root = tmp.path().join("root");
    fs::create_dir(&root).unwrap();
    apply_all(&root, &[&lower_layer, &upper_layer]);
    let mut applied = snapshot(&root);
    let mut expected = merged_view;
    // Directory mtimes differ between a live mount and an unpack; compare the rest.
    for state in applied.values_mut().chain(expected.values_mut()) {
        if state.kind == "dir" {
            state.mtime = 0;
        }
        state
            .xattrs
            .retain(|name, _| !name.starts_with("trusted.overlay."));
    }
    assert_eq!(applied, expected);
}

#[test]
fn overlay_apply_mode_writes_whiteouts_a_real_mount_honours() {
    let layer1 = TarBuilder::new()
        .file("secret.txt", b"s")
        .file("public.txt", b"p")
        .dir("d")
        .file("d/a", b"a")
        .dir("keep")
        .file("keep/x", b"x")
        .file("keep/y", b"y")
        .finish();
    // No entry for keep/: the overlay layer gets the directory implicitly.
    let layer2 = TarBuilder::new()
        .file(".wh.secret.txt", b"")
        .dir("d")
        .file("d/.wh..wh..opq", b"")
        .file("d/b", b"b")
        .file("keep/.wh.x", b"")
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    let l1 = tmp.path().join("l1");
    let l2 = tmp.path().join("l2");
    let merged = tmp.path().join("merged");
    fs::create_dir(&merged).unwrap();
    let overlay = opts(WhiteoutFormat::Overlay);
    berth_layer::apply_to_new_dir(&layer1[..], &l1, &overlay).unwrap();
    let stats = berth_layer::apply_to_new_dir(&layer2[..], &l2, &overlay).unwrap();
    assert_eq!(stats.whiteouts, 3);

    let wh = fs::symlink_metadata(l2.join("secret.txt")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert_eq!(
        xattr::get(l2.join("d"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    assert!(!l2.join("d/.wh..wh..opq").exists());

    let _mount = OverlayMount::read_only(&[&l2, &l1], &merged);
    assert_eq!(
        listing(&merged),
        ["d", "d/b", "keep", "keep/y", "public.txt"]
    );
}
