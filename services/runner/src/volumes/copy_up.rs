//! Docker's volume copy-up: an empty volume mounted over a directory of the image starts
//! as a copy of that directory (unless the mount says `nocopy`), so `-v data:/etc` still
//! shows the image's `/etc`.
//!
//! It copies from a container's root filesystem into the volume's directory, keeping
//! owners, modes, times, symlinks, hard links and device nodes. The image side is
//! resolved inside the root (`berth-rootpath`), as the runtime resolves the mount's
//! destination, so a symlink of the image can never make it copy a host directory. The
//! volume side may be shared with a running container that plants symlinks in it while
//! the copy runs: every write there is relative to a directory descriptor and never
//! follows a symlink (`O_NOFOLLOW`, `O_EXCL`, `AT_SYMLINK_NOFOLLOW`). Never use a path
//! below the volume's directory with `std::fs` here.

use std::collections::HashMap;
use std::ffi::{CStr, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use berth_rootpath::InRoot;
use nix::fcntl::AtFlags;
use nix::fcntl::{OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, UtimensatFlags, fstatat, mkdirat, mknodat, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchownat, symlinkat};

/// Copies the image's directory at `destination` (inside `rootfs`) into `volume` when the
/// volume is empty and the image has a directory there; returns whether it copied.
pub fn copy_up(rootfs: &Path, destination: &str, volume: &Path) -> io::Result<bool> {
    if std::fs::read_dir(volume)?.next().is_some() {
        return Ok(false);
    }
    let image = InRoot::open(rootfs).map_err(io::Error::other)?;
    let Some(source) = image.open_dir(destination).map_err(io::Error::other)? else {
        return Ok(false);
    };
    let target = open_at(
        None,
        volume.as_os_str(),
        OFlag::O_DIRECTORY | OFlag::O_RDONLY,
    )?;
    let volume_root = InRoot::open(volume).map_err(io::Error::other)?;
    fill(&OwnedFd::from(source), &target, &volume_root)?;
    Ok(true)
}

/// Copies the content of the directory `source` into the directory `target` (the
/// volume's root, `volume` as a resolver for hard links), then gives `target` the
/// owner, mode and times of `source`.
fn fill(source: &OwnedFd, target: &OwnedFd, volume: &InRoot) -> io::Result<()> {
    let mut copier = Copier {
        volume,
        links: HashMap::new(),
    };
    copier.copy_dir(source, target, Path::new("/"))?;
    let meta = nix::sys::stat::fstat(source.as_raw_fd())?;
    keep_metadata_fd(target, &meta)
}

struct Copier<'a> {
    volume: &'a InRoot,
    /// The first copy of each multiply linked inode, as a path inside the volume.
    links: HashMap<(u64, u64), PathBuf>,
}

impl Copier<'_> {
    /// Copies the entries of `from` into `to`; `at` is where `to` is inside the volume.
    fn copy_dir(&mut self, from: &OwnedFd, to: &OwnedFd, at: &Path) -> io::Result<()> {
        for name in entries(from)? {
            let name = name.as_os_str();
            let meta = fstatat(Some(from.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
            let kind = SFlag::from_bits_truncate(meta.st_mode & SFlag::S_IFMT.bits());
            if kind == SFlag::S_IFDIR {
                mkdirat(Some(to.as_raw_fd()), name, Mode::from_bits_truncate(0o700))?;
                let sub_to = open_at(Some(to), name, OFlag::O_DIRECTORY | OFlag::O_RDONLY)?;
                let sub_from = open_at(Some(from), name, OFlag::O_DIRECTORY | OFlag::O_RDONLY)?;
                self.copy_dir(&sub_from, &sub_to, &at.join(name))?;
                keep_metadata_fd(&sub_to, &meta)?;
                continue;
            }
            if meta.st_nlink > 1 {
                let key = (meta.st_dev, meta.st_ino);
                if let Some(first) = self.links.get(&key) {
                    self.volume
                        .hard_link(first, at.join(name))
                        .map_err(io::Error::other)?;
                    continue;
                }
                self.links.insert(key, at.join(name));
            }
            match kind {
                SFlag::S_IFLNK => {
                    let link = readlinkat(Some(from.as_raw_fd()), name)?;
                    symlinkat(link.as_os_str(), Some(to.as_raw_fd()), name)?;
                    keep_metadata_at(to, name, &meta)?;
                }
                SFlag::S_IFREG => {
                    let mut input = File::from(open_at(Some(from), name, OFlag::O_RDONLY)?);
                    let output = open_at(
                        Some(to),
                        name,
                        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
                    )?;
                    io::copy(&mut input, &mut File::from(output.try_clone()?))?;
                    keep_metadata_fd(&output, &meta)?;
                }
                _ => {
                    // mknodat never follows a symlink and fails on any existing name; the
                    // node is then handled through a descriptor of its own.
                    mknodat(
                        Some(to.as_raw_fd()),
                        name,
                        kind,
                        Mode::from_bits_truncate(0o600),
                        meta.st_rdev,
                    )?;
                    let node = open_at(Some(to), name, OFlag::O_PATH)?;
                    keep_metadata_fd(&node, &meta)?;
                }
            }
        }
        Ok(())
    }
}

/// `openat` relative to `dir` (or the working directory), never following a symlink
/// at `name`, close-on-exec, files created 0600 (their mode is set afterwards).
fn open_at(dir: Option<&OwnedFd>, name: &OsStr, flags: OFlag) -> io::Result<OwnedFd> {
    let fd = openat(
        dir.map(AsRawFd::as_raw_fd),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    // SAFETY: openat just returned this descriptor, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The names in directory `dir`, without `.` and `..`.
fn entries(dir: &OwnedFd) -> io::Result<Vec<OsString>> {
    let mut listing = nix::dir::Dir::openat(
        Some(dir.as_raw_fd()),
        ".",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let entry = entry?;
        let name: &CStr = entry.file_name();
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(OsStr::from_bytes(name.to_bytes()).to_os_string());
        }
    }
    Ok(names)
}

fn times(meta: &FileStat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(meta.st_atime, meta.st_atime_nsec),
        TimeSpec::new(meta.st_mtime, meta.st_mtime_nsec),
    )
}

/// Owner, mode and times onto the inode `fd` refers to (an `O_PATH` descriptor too),
/// through its `/proc/self/fd` link, which reaches that inode and nothing else.
fn keep_metadata_fd(fd: &OwnedFd, meta: &FileStat) -> io::Result<()> {
    let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    // Owner before mode: chown clears the set-user-ID and set-group-ID bits.
    std::os::unix::fs::chown(&path, Some(meta.st_uid), Some(meta.st_gid))?;
    std::fs::set_permissions(
        &path,
        std::fs::Permissions::from_mode(meta.st_mode & 0o7777),
    )?;
    let (atime, mtime) = times(meta);
    utimensat(None, &path, &atime, &mtime, UtimensatFlags::FollowSymlink)?;
    Ok(())
}

/// Owner and times of the symlink `name` in `dir` (a symlink has no mode of its own).
fn keep_metadata_at(dir: &OwnedFd, name: &OsStr, meta: &FileStat) -> io::Result<()> {
    fchownat(
        Some(dir.as_raw_fd()),
        name,
        Some(Uid::from_raw(meta.st_uid)),
        Some(Gid::from_raw(meta.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    let (atime, mtime) = times(meta);
    utimensat(
        Some(dir.as_raw_fd()),
        name,
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}

#[cfg(test)]
pub(super) fn fill_for_test(source: &Path, volume: &Path) -> io::Result<()> {
    let source = open_at(
        None,
        source.as_os_str(),
        OFlag::O_DIRECTORY | OFlag::O_RDONLY,
    )?;
    let target = open_at(
        None,
        volume.as_os_str(),
        OFlag::O_DIRECTORY | OFlag::O_RDONLY,
    )?;
    fill(
        &source,
        &target,
        &InRoot::open(volume).map_err(io::Error::other)?,
    )
}
