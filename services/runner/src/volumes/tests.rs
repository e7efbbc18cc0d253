use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::*;

fn volumes() -> (tempfile::TempDir, Volumes) {
    let dir = tempfile::tempdir().unwrap();
    let volumes = Volumes::open(dir.path()).unwrap();
    (dir, volumes)
}

fn named(name: &str) -> NewVolume {
    NewVolume {
        name: Some(name.to_owned()),
        ..Default::default()
    }
}

#[test]
fn create_is_idempotent_and_uses_dockers_layout() {
    let (dir, v) = volumes();
    let (first, new) = v.create(named("data")).unwrap();
    assert!(new);
    assert_eq!(first.driver, "local");
    assert!(dir.path().join("volumes/data/_data").is_dir());
    std::fs::write(v.data_path("data").join("f"), "kept").unwrap();
    let (again, new) = v.create(named("data")).unwrap();
    assert!(!new, "a second create returns the volume");
    assert_eq!(again, first);
    assert_eq!(
        std::fs::read_to_string(v.data_path("data").join("f")).unwrap(),
        "kept"
    );
}

#[test]
fn hostile_names_drivers_and_options_are_refused() {
    let (dir, v) = volumes();
    for name in ["../x", "a/b", ".hidden", "x", "", "/abs"] {
        assert!(
            matches!(v.create(named(name)), Err(VolumeError::InvalidName(_))),
            "{name:?}"
        );
    }
    let driver = NewVolume {
        driver: "nfs".into(),
        ..named("ok")
    };
    assert!(matches!(v.create(driver), Err(VolumeError::Driver(_))));
    let opts = NewVolume {
        options: [("type".to_owned(), "tmpfs".to_owned())].into(),
        ..named("ok")
    };
    assert!(matches!(v.create(opts), Err(VolumeError::Options(_))));
    assert!(v.list().unwrap().is_empty());
    assert!(!dir.path().join("x").exists());
}

#[test]
fn anonymous_names_are_64_hex() {
    let (_dir, v) = volumes();
    let (anon, _) = v.create(NewVolume::default()).unwrap();
    assert_eq!(anon.name.len(), 64);
    assert!(anon.name.chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn remove_takes_the_row_and_the_content() {
    let (dir, v) = volumes();
    v.create(named("gone")).unwrap();
    std::fs::write(v.data_path("gone").join("f"), "12345").unwrap();
    assert_eq!(v.size("gone"), 5);
    v.remove("gone").unwrap();
    assert!(matches!(v.get("gone"), Err(VolumeError::NotFound(_))));
    assert_eq!(
        std::fs::read_dir(dir.path().join("volumes"))
            .unwrap()
            .count(),
        0,
        "no trash is left behind"
    );
    assert!(matches!(v.remove("gone"), Err(VolumeError::NotFound(_))));
}

#[test]
fn volumes_outlive_a_reopen_and_leftovers_are_cleared() {
    let dir = tempfile::tempdir().unwrap();
    {
        let v = Volumes::open(dir.path()).unwrap();
        v.create(named("kept")).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("volumes/.trash-1/_data")).unwrap();
    std::fs::create_dir_all(dir.path().join("volumes/orphan/_data/old")).unwrap();
    let v = Volumes::open(dir.path()).unwrap();
    assert_eq!(v.get("kept").unwrap().name, "kept");
    assert!(!dir.path().join("volumes/.trash-1").exists());
    v.create(named("orphan")).unwrap();
    assert!(
        !v.data_path("orphan").join("old").exists(),
        "a directory without a row is not a volume"
    );
}

#[test]
fn copy_up_fills_only_empty_volumes_and_keeps_metadata() {
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc");
    std::fs::create_dir_all(etc.join("sub")).unwrap();
    std::fs::write(etc.join("passwd"), "root:x:0:0").unwrap();
    std::fs::set_permissions(etc.join("passwd"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("passwd", etc.join("link")).unwrap();
    std::fs::hard_link(etc.join("passwd"), etc.join("sub/hard")).unwrap();
    std::os::unix::fs::lchown(etc.join("sub"), Some(65534), Some(65534)).unwrap();
    nix::unistd::mkfifo(
        &etc.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o620),
    )
    .unwrap();
    std::fs::set_permissions(etc.join("fifo"), std::fs::Permissions::from_mode(0o620)).unwrap();

    let vol = tempfile::tempdir().unwrap();
    assert!(copy_up(root.path(), "/etc", vol.path()).unwrap());
    let p = vol.path();
    assert_eq!(
        std::fs::read_to_string(p.join("passwd")).unwrap(),
        "root:x:0:0"
    );
    assert_eq!(p.join("passwd").metadata().unwrap().mode() & 0o7777, 0o640);
    assert_eq!(
        std::fs::read_link(p.join("link")).unwrap(),
        Path::new("passwd")
    );
    assert_eq!(p.join("sub").metadata().unwrap().uid(), 65534);
    let fifo = p.join("fifo").symlink_metadata().unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&fifo.file_type()));
    assert_eq!(fifo.mode() & 0o7777, 0o620);
    assert_eq!(
        p.join("sub/hard").metadata().unwrap().ino(),
        p.join("passwd").metadata().unwrap().ino(),
        "hard links stay links"
    );

    // Not empty any more: a second copy changes nothing.
    std::fs::write(p.join("passwd"), "changed").unwrap();
    assert!(!copy_up(root.path(), "/etc", p).unwrap());
    assert_eq!(
        std::fs::read_to_string(p.join("passwd")).unwrap(),
        "changed"
    );
}

#[test]
fn copy_up_never_follows_the_images_symlinks() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "host").unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("escape")).unwrap();
    let vol = tempfile::tempdir().unwrap();
    assert!(!copy_up(root.path(), "/escape", vol.path()).unwrap());
    assert!(!copy_up(root.path(), "/missing/dir", vol.path()).unwrap());
    assert_eq!(std::fs::read_dir(vol.path()).unwrap().count(), 0);
}

#[test]
fn copy_up_follows_the_images_links_inside_its_root_only() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "host").unwrap();
    // An absolute link to a host directory: inside the root, that path is the root's.
    std::os::unix::fs::symlink(outside.path(), root.path().join("data")).unwrap();
    let vol = tempfile::tempdir().unwrap();
    assert!(!copy_up(root.path(), "/data", vol.path()).unwrap());
    let own = root.path().join(outside.path().strip_prefix("/").unwrap());
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(own.join("mine"), "image").unwrap();
    assert!(copy_up(root.path(), "/data", vol.path()).unwrap());
    let copied: Vec<_> = std::fs::read_dir(vol.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(copied, ["mine"], "the image's directory, not the host's");
}

#[test]
fn copy_up_never_writes_through_a_symlink_planted_in_the_volume() {
    // A container sharing the volume may plant links while the copy runs; here they
    // are there before it starts, at the names the copy is about to write.
    let image = tempfile::tempdir().unwrap();
    std::fs::write(image.path().join("conf"), "from the image").unwrap();
    let host = tempfile::tempdir().unwrap();
    let victim = host.path().join("victim");
    std::fs::write(&victim, "host file").unwrap();
    let vol = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&victim, vol.path().join("conf")).unwrap();
    assert!(copy_up::fill_for_test(image.path(), vol.path()).is_err());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "host file");

    let image = tempfile::tempdir().unwrap();
    std::fs::create_dir(image.path().join("dir")).unwrap();
    std::fs::write(image.path().join("dir/inner"), "x").unwrap();
    let vol = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(host.path(), vol.path().join("dir")).unwrap();
    assert!(copy_up::fill_for_test(image.path(), vol.path()).is_err());
    assert!(
        !host.path().join("inner").exists(),
        "nothing written on the host"
    );
}
