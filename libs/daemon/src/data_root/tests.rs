use std::os::unix::fs::PermissionsExt as _;

use super::*;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn wrong_modes_are_fixed_and_links_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("runner/containers")).unwrap();
    std::fs::write(root.join("runner/containers.redb"), b"").unwrap();
    for p in [&root, &root.join("runner"), &root.join("runner/containers")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(
        root.join("runner/containers.redb"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::os::unix::fs::symlink("/tmp", root.join("link")).unwrap();

    secure_tree_top(&root, ROOT_DIR_MODE).unwrap();
    secure_tree_top(&root.join("runner"), PRIVATE_DIR_MODE).unwrap();
    secure_state_files(&root.join("runner"), &["containers.redb", "absent.redb"]).unwrap();

    assert_eq!(mode(&root), 0o710);
    assert_eq!(mode(&root.join("runner")), 0o700);
    assert_eq!(mode(&root.join("runner/containers")), 0o700);
    assert_eq!(mode(&root.join("runner/containers.redb")), 0o600);
    assert_eq!(
        mode(Path::new("/tmp")) & 0o777,
        0o777,
        "the link's target is untouched"
    );
}

#[test]
fn a_second_lock_names_the_first_holder() {
    let dir = tempfile::tempdir().unwrap();
    let first = lock(dir.path(), "berthd").unwrap();
    let err = lock(dir.path(), "berthd").unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "another berthd is using {} (pid {})",
            dir.path().display(),
            std::process::id()
        )),
        "{err}"
    );
    drop(first);
    lock(dir.path(), "berthd").unwrap();
}
