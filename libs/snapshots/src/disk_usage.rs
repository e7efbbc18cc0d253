//! How many bytes a directory tree takes, for prune reports and `SizeRw`.

use std::path::Path;

/// Bytes of the files under `dir`; symlinks count as themselves, never as what they point
/// at, and unreadable parts count as 0 (a report, not an invariant).
pub fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => tree_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
