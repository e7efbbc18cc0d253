//! Who may read a data root, and who may use it: its modes and its lock.
//!
//! A data root holds containers' files (a setuid binary a container made, a `PASSWORD=`
//! in a spec), so it must be root's alone (CVE-2021-41091 class): directories 0700, or
//! 0710 where dockerd uses it, and state files 0600. Roots made by an older berth, or
//! by hand, are fixed on start and the fix is logged, as dockerd does.
//!
//! The lock is taken before a process touches anything else in the root (its sockets
//! above all), so a second process on the same root fails without harming the first.
//!
//! This module never walks into container roots or image trees: it fixes the modes of
//! the directories and files it is named, nothing below them.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// A top-level data root: root may traverse and list it, the group (root's) only
/// traverse, others nothing; dockerd's mode for its roots' private subdirectories.
pub const ROOT_DIR_MODE: u32 = 0o710;
/// Every directory a service keeps state in.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Every state file (databases, container specs).
pub const STATE_FILE_MODE: u32 = 0o600;

/// Why a data root cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataRootError {
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another {program} is using {root} (pid {pid}): stop it first, or give this one another --data-root"
    )]
    InUse {
        program: String,
        root: PathBuf,
        pid: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataRootError + '_ {
    move |source| DataRootError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates `dir` (and missing parents, which get `mode` too) or, when it exists, sets its
/// mode to `mode` if it differs, logging the fix.
pub fn secure_dir(dir: &Path, mode: u32) -> Result<(), DataRootError> {
    DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(io_err(dir))?;
    fix_mode(dir, mode).map(|_| ())
}

/// [`secure_dir`] for `dir` and then [`PRIVATE_DIR_MODE`] for each directory directly
/// inside it (what an older berth made 0755).
pub fn secure_tree_top(dir: &Path, mode: u32) -> Result<(), DataRootError> {
    secure_dir(dir, mode)?;
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        // file_type does not follow symlinks: a link is left alone, never chmodded.
        if entry.file_type().map_err(io_err(dir))?.is_dir() {
            fix_mode(&entry.path(), PRIVATE_DIR_MODE)?;
        }
    }
    Ok(())
}

/// Sets [`STATE_FILE_MODE`] on each of `names` in `dir` that exists as a regular file.
pub fn secure_state_files(dir: &Path, names: &[&str]) -> Result<(), DataRootError> {
    for name in names {
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => {
                fix_mode(&path, STATE_FILE_MODE)?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    Ok(())
}

/// Sets `path`'s permission bits to `mode` when they differ; says whether it did.
fn fix_mode(path: &Path, mode: u32) -> Result<bool, DataRootError> {
    let meta = std::fs::symlink_metadata(path).map_err(io_err(path))?;
    let had = meta.permissions().mode() & 0o7777;
    if had == mode {
        return Ok(false);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_err(path))?;
    tracing::warn!(
        path = %path.display(),
        was = format!("{had:04o}"),
        now = format!("{mode:04o}"),
        "fixed the mode of a data root entry: host users must not reach containers' files"
    );
    Ok(true)
}

/// An exclusive hold on a data root, for as long as the value lives (the kernel drops it
/// when the process dies, however it dies).
#[derive(Debug)]
pub struct DataRootLock {
    _lock: Flock<File>,
}

/// Takes `<root>/<program>.pid` exclusively and writes this process's pid in it. Fails
/// at once, naming the holder's pid, when another process holds it.
pub fn lock(root: &Path, program: &str) -> Result<DataRootLock, DataRootError> {
    let path = root.join(format!("{program}.pid"));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(STATE_FILE_MODE)
        .open(&path)
        .map_err(io_err(&path))?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(DataRootError::InUse {
                program: program.to_owned(),
                root: root.to_owned(),
                pid: if pid.is_empty() { "unknown" } else { pid }.to_owned(),
            });
        }
        Err((_, errno)) => return Err(io_err(&path)(errno.into())),
    };
    let written = lock
        .set_len(0)
        .and_then(|()| lock.rewind())
        .and_then(|()| writeln!(lock, "{}", std::process::id()))
        .and_then(|()| lock.flush());
    written.map_err(io_err(&path))?;
    Ok(DataRootLock { _lock: lock })
}

#[cfg(test)]
mod tests;
