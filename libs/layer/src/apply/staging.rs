//! All-or-nothing apply: unpack into a private sibling directory, rename into place.
//!
//! The staging directory is created next to the final one (same filesystem, so the
//! rename is atomic), mode 0700 while it fills, named `.<final>.staging-<random>`. On
//! any error it is removed and the final directory never appears; on success it is
//! renamed with `RENAME_NOREPLACE`, so a concurrent unpack of the same layer loses
//! cleanly instead of one overwriting the other. This module must never remove or
//! replace an existing final directory.

use std::ffi::OsString;
use std::fs::{self, Permissions};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{ApplyOptions, ApplyStats, apply_inner};
use crate::error::{LayerError, Result};
use crate::sys;

/// Unpacks the layer into `final_dir`, which must not exist yet, so that `final_dir`
/// appears complete or not at all.
///
/// The root of the result gets mode 0755 unless the archive has an entry for `./`.
/// With [`ApplyOptions::sync`] the content is flushed before the rename and the
/// rename itself after it.
pub fn apply_to_new_dir<R: Read>(
    reader: R,
    final_dir: &Path,
    opts: &ApplyOptions,
) -> Result<ApplyStats> {
    let shown = || final_dir.display().to_string();
    if fs::symlink_metadata(final_dir).is_ok() {
        return Err(LayerError::AlreadyExists { path: shown() });
    }
    let name = final_dir.file_name().ok_or_else(|| {
        LayerError::io(
            "unpack into",
            shown(),
            io::Error::new(io::ErrorKind::InvalidInput, "path has no final component"),
        )
    })?;
    let parent = match final_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".staging-");
    let staging = tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(Permissions::from_mode(0o700))
        .tempdir_in(parent)
        .map_err(|e| {
            LayerError::io(
                "create staging directory in",
                parent.display().to_string(),
                e,
            )
        })?;

    let (stats, saw_root) = match apply_inner(reader, staging.path(), opts) {
        Ok(done) => done,
        Err(err) => {
            discard(staging);
            return Err(err);
        }
    };
    let chmod = match saw_root {
        true => Ok(()),
        false => fs::set_permissions(staging.path(), Permissions::from_mode(0o755)),
    };
    if let Err(e) = chmod {
        discard(staging);
        return Err(LayerError::io("chmod", shown(), e));
    }
    if let Err(e) = sys::rename_noreplace(staging.path(), final_dir) {
        discard(staging);
        return Err(match e.raw_os_error() {
            Some(libc::EEXIST | libc::ENOTEMPTY) => LayerError::AlreadyExists { path: shown() },
            _ => LayerError::io("rename staging directory to", shown(), e),
        });
    }
    // Renamed away: nothing left for the guard to clean.
    let _ = staging.keep();
    if opts.sync {
        sync_dir(parent).map_err(|e| LayerError::io("sync", parent.display().to_string(), e))?;
    }
    Ok(stats)
}

fn discard(staging: tempfile::TempDir) {
    let path = staging.path().to_path_buf();
    if let Err(e) = staging.close() {
        tracing::warn!(path = %path.display(), error = %e, "could not remove staging directory");
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}
