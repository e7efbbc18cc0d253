//! Diff then apply gives back the same tree; the same tree always diffs to the same
//! bytes.

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use berth_layer::{ApplyOptions, Compression, DiffOptions, apply, apply_to_new_dir, diff};
use common::{set_mtime, snapshot};

const LONG_NAME: &str = "a-directory-name-that-is-rather-long-on-purpose-0123456789/\
                         and-a-file-name-that-pushes-the-path-past-one-hundred-bytes.txt";

/// Builds a tree with every kind of file berth cares about. `reverse` creates the same
/// tree in the opposite order (different inode numbers and directory order).
fn build_tree(root: &Path, reverse: bool) {
    let mut steps: Vec<fn(&Path)> = vec![
        |r| {
            fs::create_dir_all(r.join("etc")).unwrap();
            fs::write(r.join("etc/hosts"), b"127.0.0.1 localhost\n").unwrap();
            symlink("/usr/share/zoneinfo/UTC", r.join("etc/localtime")).unwrap();
        },
        |r| {
            fs::create_dir_all(r.join("bin")).unwrap();
            fs::write(r.join("bin/su"), b"\x7fELF pretend").unwrap();
            fs::set_permissions(r.join("bin/su"), fs::Permissions::from_mode(0o4755)).unwrap();
            fs::write(r.join("bin/empty"), b"").unwrap();
        },
        |r| {
            fs::create_dir_all(r.join("home/user")).unwrap();
            fs::write(r.join("home/user/.profile"), b"export A=1\n").unwrap();
            fs::set_permissions(
                r.join("home/user/.profile"),
                fs::Permissions::from_mode(0o600),
            )
            .unwrap();
            fs::set_permissions(r.join("home/user"), fs::Permissions::from_mode(0o700)).unwrap();
            std::os::unix::fs::lchown(r.join("home/user"), Some(1000), Some(1000)).unwrap();
            std::os::unix::fs::lchown(r.join("home/user/.profile"), Some(1000), Some(1000))
                .unwrap();
        },
        |r| {
            fs::create_dir_all(r.join("usr/bin")).unwrap();
            fs::create_dir_all(r.join("usr/lib")).unwrap();
            symlink("usr/lib", r.join("lib")).unwrap();
            let big: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 % 251) as u8).collect();
            fs::write(r.join("usr/bin/tool"), &big).unwrap();
            fs::hard_link(r.join("usr/bin/tool"), r.join("usr/bin/tool-alias")).unwrap();
            fs::set_permissions(r.join("usr/bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
            xattr::set(r.join("usr/bin/tool"), "user.x", b"tool attr").unwrap();
            xattr::set(r.join("usr/lib"), "user.x", b"dir attr").unwrap();
        },
        |r| {
            fs::create_dir_all(r.join("tmp")).unwrap();
            fs::set_permissions(r.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
            fs::create_dir_all(r.join("srv/shared")).unwrap();
            fs::set_permissions(r.join("srv/shared"), fs::Permissions::from_mode(0o2775)).unwrap();
            nix_mkfifo(&r.join("srv/fifo"));
            let long = r.join(LONG_NAME);
            fs::create_dir_all(long.parent().unwrap()).unwrap();
            fs::write(long, b"long").unwrap();
        },
    ];
    if reverse {
        steps.reverse();
    }
    for step in &steps {
        step(root);
    }
    // Times last: creating children moves directory mtimes.
    let mut paths = Vec::new();
    walk(root, &mut paths);
    for path in &paths {
        set_mtime(path, 1_600_000_000 + (path_hash(path, root) % 1000) as i64);
    }
}

fn nix_mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg("-m")
        .arg("0640")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            walk(&path, out);
        }
        out.push(path);
    }
}

fn path_hash(path: &Path, root: &Path) -> u64 {
    path.strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
}

fn diff_to_vec(dir: &Path, opts: &DiffOptions) -> (Vec<u8>, berth_layer::DiffStats) {
    let mut out = Vec::new();
    let stats = diff(dir, &mut out, opts).unwrap();
    (out, stats)
}

#[test]
fn diff_then_apply_reproduces_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    build_tree(&src, false);
    let expected = snapshot(&src);
    assert!(expected["usr/bin/tool"].link_group.is_some());
    assert_eq!(expected["bin/su"].mode, 0o4755);

    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let (layer, diff_stats) = diff_to_vec(
            &src,
            &DiffOptions {
                compression,
                ..DiffOptions::default()
            },
        );
        assert_eq!(diff_stats.size, layer.len() as u64);
        assert_eq!(diff_stats.digest, berth_layer::Sha256Digest::of(&layer));
        if compression == Compression::None {
            assert_eq!(diff_stats.digest, diff_stats.diff_id);
        }

        let dst = tmp.path().join(format!("dst-{compression}"));
        let stats = apply_to_new_dir(&layer[..], &dst, &ApplyOptions::default()).unwrap();
        assert_eq!(stats.diff_id, diff_stats.diff_id, "{compression}");
        assert_eq!(stats.compression, compression);
        assert_eq!(stats.tar_bytes, diff_stats.uncompressed_size);
        assert_eq!(stats.entries, diff_stats.entries);
        assert_eq!(stats.skipped_xattrs, 0);
        assert_eq!(snapshot(&dst), expected, "{compression}");
        assert_eq!(
            fs::metadata(&dst).unwrap().permissions().mode() & 0o7777,
            0o755,
            "the new root gets 0755"
        );
    }
}

#[test]
fn gnu_tar_reads_our_layers_and_we_read_gnu_tars() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    build_tree(&src, false);
    let (layer, _) = diff_to_vec(&src, &DiffOptions::default());
    let layer_path = tmp.path().join("layer.tar");
    fs::write(&layer_path, &layer).unwrap();

    let by_gnu = tmp.path().join("by-gnu");
    fs::create_dir(&by_gnu).unwrap();
    let status = std::process::Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--same-owner", "-xpf"])
        .arg(&layer_path)
        .arg("-C")
        .arg(&by_gnu)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(snapshot(&by_gnu), snapshot(&src));

    // And the other way: a GNU tar archive of the tree applies to the same tree.
    let gnu_layer = tmp.path().join("gnu.tar");
    let status = std::process::Command::new("tar")
        .args(["--xattrs", "--numeric-owner", "-cf"])
        .arg(&gnu_layer)
        .arg("-C")
        .arg(&src)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let by_us = tmp.path().join("by-us");
    let stats = apply_to_new_dir(
        fs::File::open(&gnu_layer).unwrap(),
        &by_us,
        &ApplyOptions::default(),
    )
    .unwrap();
    assert_eq!(
        stats.diff_id,
        berth_layer::Sha256Digest::of(&fs::read(&gnu_layer).unwrap()),
        "the diff ID covers the whole stream, record padding included"
    );
    assert_eq!(snapshot(&by_us), snapshot(&src));
}

#[test]
fn the_same_tree_diffs_to_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    fs::create_dir(&a).unwrap();
    fs::create_dir(&b).unwrap();
    build_tree(&a, false);
    build_tree(&b, true);
    // Different atimes must not matter.
    let t = filetime::FileTime::from_unix_time(1_234, 0);
    filetime::set_file_atime(b.join("etc/hosts"), t).unwrap();
    fs::set_permissions(&b, fs::Permissions::from_mode(0o700)).unwrap();

    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let opts = DiffOptions {
            compression,
            ..DiffOptions::default()
        };
        let (first, first_stats) = diff_to_vec(&a, &opts);
        let (again, _) = diff_to_vec(&a, &opts);
        let (other, other_stats) = diff_to_vec(&b, &opts);
        assert_eq!(first, again, "{compression}: same tree twice");
        assert_eq!(
            first, other,
            "{compression}: same tree built in another order"
        );
        assert_eq!(first_stats, other_stats);
    }
}

#[test]
fn members_are_sorted_by_path_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["b", "a.txt", "a/z", "a/b", "A", "a-"] {
        let path = tmp.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        if !path.exists() {
            fs::write(&path, name).unwrap();
        }
    }
    let (layer, _) = diff_to_vec(tmp.path(), &DiffOptions::default());
    let mut archive = tar::Archive::new(&layer[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    // Sorted by canonical path; directories are written with a trailing slash.
    assert_eq!(names, ["A", "a/", "a-", "a.txt", "a/b", "a/z", "b"]);
}

#[test]
fn clamp_mtime_caps_later_times_only() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("old"), b"old").unwrap();
    fs::write(src.join("new"), b"new").unwrap();
    symlink("old", src.join("link")).unwrap();
    set_mtime(&src.join("old"), 1_000);
    set_mtime(&src.join("new"), 2_000_000_000);
    set_mtime(&src.join("link"), 2_000_000_000);

    let opts = DiffOptions {
        clamp_mtime: Some(1_500_000_000),
        ..DiffOptions::default()
    };
    let (layer, _) = diff_to_vec(&src, &opts);
    let dst = tmp.path().join("dst");
    fs::create_dir(&dst).unwrap();
    apply(&layer[..], &dst, &ApplyOptions::default()).unwrap();
    let tree = snapshot(&dst);
    assert_eq!(tree["old"].mtime, 1_000);
    assert_eq!(tree["new"].mtime, 1_500_000_000);
    assert_eq!(tree["link"].mtime, 1_500_000_000);

    // Touching a file's mtime past the clamp does not change the layer.
    set_mtime(&src.join("new"), 2_100_000_000);
    assert_eq!(diff_to_vec(&src, &opts).0, layer);
}
