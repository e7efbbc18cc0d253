//! Removes cgroups berth created: a container's directory in every hierarchy when it is
//! deleted, and (for tests and tidy-ups) a whole parent tree. Only ever removes
//! directories under the path it is given, never a hierarchy's root.

use std::path::Path;
use std::time::Duration;

use super::CgroupDirs;
use crate::error::{Error, Result};

fn rmdir_with_retry(dir: &Path) -> Result<()> {
    // A cgroup stays busy for a moment after its last process exits.
    let mut last = None;
    for _ in 0..50 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Error::Cgroup {
        path: dir.to_path_buf(),
        message: format!(
            "cannot remove it ({}): processes may still run in it; kill them and retry",
            last.map(|e| e.to_string()).unwrap_or_default()
        ),
    })
}

/// Removes the container cgroup `path` from every hierarchy (missing ones are fine).
pub fn remove(path: &str) -> Result<()> {
    if path.trim_matches('/').is_empty() {
        return Ok(());
    }
    for (_, dir) in &CgroupDirs::new(path).dirs {
        rmdir_with_retry(dir)?;
    }
    Ok(())
}

fn remove_dir_tree(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_dir_tree(&entry.path())?;
        }
    }
    if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
        }
    }
    rmdir_with_retry(dir)
}

/// Kills whatever runs in the cgroup tree `path` and removes it from every hierarchy.
pub fn remove_tree(path: &str) -> Result<()> {
    if path.trim_matches('/').is_empty() {
        return Ok(());
    }
    for (_, dir) in &CgroupDirs::new(path).dirs {
        remove_dir_tree(dir)?;
    }
    Ok(())
}
