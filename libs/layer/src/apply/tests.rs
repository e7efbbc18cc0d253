use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::{PermissionsExt, symlink};

use super::remove::remove_all;
use super::resolve::{Missing, ResolveError, RootDir};
use super::whiteout::LayerPaths;
use super::*;
use crate::archive::MemberKind;
use crate::archive::writer::{MemberHeader, TarWriter};

#[test]
fn the_resolver_names_the_symlink_in_the_way() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    let root_dir = tmp.path().join("root");
    fs::create_dir(&outside).unwrap();
    fs::create_dir_all(root_dir.join("a")).unwrap();
    symlink(&outside, root_dir.join("a/b")).unwrap();
    let mut root = RootDir::open(&root_dir).unwrap();
    let create = Missing::Create { owner: None };
    match root.dir(b"a/b/c", create) {
        Err(ResolveError::Symlink(prefix)) => assert_eq!(prefix, b"a/b"),
        other => panic!("expected a symlink error, got {other:?}"),
    }
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn the_resolver_creates_missing_directories_0755_and_refuses_files() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("file"), b"").unwrap();
    let mut root = RootDir::open(tmp.path()).unwrap();
    root.dir(b"x/y/z", Missing::Create { owner: None }).unwrap();
    let mode = fs::metadata(tmp.path().join("x/y"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755);
    assert!(matches!(
        root.dir(b"nope", Missing::Fail),
        Err(ResolveError::Missing)
    ));
    match root.dir(b"file/sub", Missing::Create { owner: None }) {
        Err(ResolveError::NotDir(prefix)) => assert_eq!(prefix, b"file"),
        other => panic!("expected a not-a-directory error, got {other:?}"),
    }
}

#[test]
fn remove_all_deletes_symlinks_not_their_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("precious"), b"keep").unwrap();
    let tree = tmp.path().join("tree");
    fs::create_dir_all(tree.join("d/e")).unwrap();
    fs::write(tree.join("d/e/f"), b"").unwrap();
    symlink(&outside, tree.join("d/link")).unwrap();
    let root = RootDir::open(tmp.path()).unwrap();
    remove_all(root.root(), c"tree").unwrap();
    assert!(!tree.exists());
    assert_eq!(fs::read(outside.join("precious")).unwrap(), b"keep");
    // Missing is fine.
    remove_all(root.root().as_fd(), c"tree").unwrap();
}

#[test]
fn layer_paths_hold_every_ancestor() {
    let mut paths = LayerPaths::default();
    paths.record(&MemberPath::parse(b"a/b/c").unwrap());
    for p in ["a", "a/b", "a/b/c"] {
        assert!(
            paths.contains(&MemberPath::parse(p.as_bytes()).unwrap()),
            "{p}"
        );
    }
    assert!(!paths.contains(&MemberPath::parse(b"a/x").unwrap()));
}

fn layer(members: &[(MemberKind, &str, &str, &[u8])]) -> Vec<u8> {
    let mut tar = TarWriter::new(Vec::new());
    for (kind, path, link, content) in members {
        let header = MemberHeader {
            kind: *kind,
            path: path.as_bytes(),
            link: link.as_bytes(),
            mode: if *kind == MemberKind::Dir {
                0o755
            } else {
                0o644
            },
            uid: 0,
            gid: 0,
            mtime: 1_000_000,
            size: content.len() as u64,
            dev_major: 0,
            dev_minor: 0,
            xattrs: &[],
        };
        tar.write_header(&header).unwrap();
        tar.copy_content(&mut &content[..], header.size).unwrap();
    }
    tar.finish().unwrap()
}

#[test]
fn later_members_replace_earlier_ones_of_another_kind() {
    use MemberKind::*;
    let tmp = tempfile::tempdir().unwrap();
    let opts = ApplyOptions {
        sync: false,
        ..ApplyOptions::default()
    };
    let first = layer(&[
        (Dir, "d", "", b""),
        (File, "d/inner", "", b"1"),
        (File, "f", "", b"file"),
        (File, "shared", "", b"lower content"),
        (Hardlink, "alias", "shared", b""),
    ]);
    apply(&first[..], tmp.path(), &opts).unwrap();
    // d becomes a file, f a directory with content, shared is rewritten: its lower
    // hard link keeps the old content.
    let second = layer(&[
        (File, "d", "", b"now a file"),
        (Dir, "f", "", b""),
        (File, "f/x", "", b"x"),
        (File, "shared", "", b"new content"),
    ]);
    apply(&second[..], tmp.path(), &opts).unwrap();
    assert_eq!(fs::read(tmp.path().join("d")).unwrap(), b"now a file");
    assert_eq!(fs::read(tmp.path().join("f/x")).unwrap(), b"x");
    assert_eq!(fs::read(tmp.path().join("shared")).unwrap(), b"new content");
    assert_eq!(
        fs::read(tmp.path().join("alias")).unwrap(),
        b"lower content"
    );
    // Directory mtimes are the archive's, set after their children.
    let mtime = fs::metadata(tmp.path().join("f")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::mtime(&mtime), 1_000_000);
}

#[test]
fn remapped_owners_and_out_of_range_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tar = TarWriter::new(Vec::new());
    let header = MemberHeader {
        kind: MemberKind::File,
        path: b"owned",
        link: b"",
        mode: 0o640,
        uid: 1000,
        gid: 1001,
        mtime: 0,
        size: 0,
        dev_major: 0,
        dev_minor: 0,
        xattrs: &[],
    };
    tar.write_header(&header).unwrap();
    let bytes = tar.finish().unwrap();
    let map = IdMap {
        uid_base: 100_000,
        gid_base: 200_000,
        size: 65_536,
    };
    let opts = ApplyOptions {
        ownership: Ownership::Remap(map),
        sync: false,
        ..ApplyOptions::default()
    };
    apply(&bytes[..], tmp.path(), &opts).unwrap();
    let meta = fs::metadata(tmp.path().join("owned")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.gid()), (101_000, 201_001));

    let small = ApplyOptions {
        ownership: Ownership::Remap(IdMap { size: 1000, ..map }),
        ..opts
    };
    let err = apply(&bytes[..], tmp.path(), &small).unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::IdOutOfRange {
                kind: "uid",
                id: 1000,
                ..
            }
        ),
        "{err}"
    );
}
