//! Docker's volume copy-up: an empty volume mounted over a directory of the image starts
//! as a copy of that directory (unless the mount says `nocopy`), so `-v data:/etc` still
//! shows the image's `/etc`.
//!
//! It copies from a container's root filesystem into the volume's directory, keeping
//! owners, modes, times, symlinks, hard links and device nodes. It must never follow a
//! symlink of the image out of its root: a path that goes through one is not copied.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Copies `rootfs` + `destination` into `volume` when the volume is empty and the image has
/// a directory there; returns whether it copied.
pub fn copy_up(rootfs: &Path, destination: &str, volume: &Path) -> io::Result<bool> {
    if std::fs::read_dir(volume)?.next().is_some() {
        return Ok(false);
    }
    let Some(source) = inside(rootfs, destination)? else {
        return Ok(false);
    };
    let mut links = HashMap::new();
    copy_dir(&source, volume, &mut links)?;
    Ok(true)
}

/// The image's directory at `destination`, when every step to it is a real directory.
fn inside(rootfs: &Path, destination: &str) -> io::Result<Option<PathBuf>> {
    let mut path = rootfs.to_path_buf();
    for part in Path::new(destination).components() {
        let Component::Normal(part) = part else {
            continue;
        };
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(Some(path))
}

/// Copies the content of `from` into the existing `to`, then gives `to` the owner, mode and
/// times of `from` (times last, since writing into a directory changes its mtime).
fn copy_dir(from: &Path, to: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = entry.metadata()?;
        let kind = meta.file_type();
        if kind.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_dir(&src, &dst, links)?;
            continue;
        }
        if meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                std::fs::hard_link(first, &dst)?;
                continue;
            }
            links.insert((meta.dev(), meta.ino()), dst.clone());
        }
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            let mode = nix::sys::stat::Mode::from_bits_truncate(meta.mode());
            let kind = nix::sys::stat::SFlag::from_bits_truncate(meta.mode());
            nix::sys::stat::mknod(&dst, kind, mode, meta.rdev()).map_err(io::Error::from)?;
        }
        keep_metadata(&dst, &meta)?;
    }
    keep_metadata(to, &std::fs::symlink_metadata(from)?)
}

fn keep_metadata(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    use nix::sys::stat::{UtimensatFlags, utimensat};
    use nix::sys::time::TimeSpec;
    // Owner before mode: chown clears the set-user-ID and set-group-ID bits.
    std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid()))?;
    if !meta.file_type().is_symlink() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    utimensat(
        None,
        path,
        &TimeSpec::new(meta.atime(), meta.atime_nsec()),
        &TimeSpec::new(meta.mtime(), meta.mtime_nsec()),
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
}
