//! Finding berth's own binaries from a test.

use std::path::PathBuf;

/// The path of a workspace binary built in the same profile as the running test.
///
/// Integration tests of one crate only get `CARGO_BIN_EXE_*` for that crate's binaries;
/// berth's live in other crates, so they are found next to the test executable
/// (`target/<profile>/deps/<test>` -> `target/<profile>/<name>`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable under target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build berth's binaries first (cargo build --workspace --bins), \
         as the README's test command does",
        path.display()
    );
    path
}
