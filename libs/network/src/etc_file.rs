//! Writing the files a container sees as `/etc/hosts` and `/etc/resolv.conf`.
//!
//! The runner bind-mounts each file into the container. A first write goes to a
//! temporary file renamed into place, so no half-written file is ever visible. Later
//! writes (a peer joined) rewrite the existing file in place, as Docker does: a bind mount
//! pins the inode, and a renamed-over file would never reach the running container. None
//! is fsynced: the runner renders them again from its records before every start, so a
//! host crash loses nothing, and a sync would put a journal commit on the path of every
//! `docker run` (Docker writes them without one too). Keep these files in a directory of
//! their own per container (the runner's state directory, never inside the container's
//! root); this module never writes anywhere else.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{NetworkError, Result};

/// Writes `contents` to `path`: atomically when the file is new, in place when it exists
/// (and may be bind-mounted into a running container).
pub fn write_container_file(path: &Path, contents: &str) -> Result<()> {
    let failed = |path: &Path, source| NetworkError::File {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    // Never through a symlink: these files are the engine's own, and a link among them
    // could only be an attack.
    if path.symlink_metadata().is_ok() {
        let mut file = OpenOptions::new()
            .write(true)
            .truncate(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| failed(path, e))?;
        file.write_all(contents.as_bytes())
            .map_err(|e| failed(path, e))?;
        return Ok(());
    }
    let temp = temp_path(path);
    let _ = fs::remove_file(&temp);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&temp)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(failed(path, e));
    }
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn creates_then_rewrites_in_place_keeping_the_inode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        write_container_file(&path, "first\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "first\n");
        let inode = fs::metadata(&path).unwrap().ino();
        write_container_file(&path, "2\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "2\n", "truncated");
        assert_eq!(fs::metadata(&path).unwrap().ino(), inode, "same inode");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left");
    }

    #[test]
    fn never_writes_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep\n").unwrap();
        let path = dir.path().join("hosts");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        assert!(write_container_file(&path, "evil\n").is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep\n");
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope/resolv.conf");
        let err = write_container_file(&path, "x").unwrap_err().to_string();
        assert!(err.contains("nope/resolv.conf"), "{err}");
    }
}
