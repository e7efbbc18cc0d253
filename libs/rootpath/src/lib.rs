//! Paths inside a root that is not the host's own: a container's root filesystem, an
//! image's unpacked tree, a volume a container writes to.
//!
//! Every host-side read, open, mkdir or create in such a tree goes through [`InRoot`],
//! which resolves the path *inside* the root (libpathrs: `openat2` with
//! `RESOLVE_IN_ROOT`, or its safe userspace walker on old kernels): a symlink planted by
//! an image or a running container, absolute or full of `..`, stays within the root and
//! can never point the host at its own files. This crate must never join a root and a
//! path into one host path and hand that to `std::fs`.

mod error;

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{File, Permissions};
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use pathrs::flags::OpenFlags;
use pathrs::{Handle, Root};

pub use error::{Result, RootPathError};

/// Linux's own limit on symlinks in one resolution (`MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// A directory tree opened as a root: paths given to it are resolved inside it.
#[derive(Debug)]
pub struct InRoot {
    root: Root,
    dir: PathBuf,
}

impl InRoot {
    /// Opens `dir` (a path the host trusts) as the root of the paths to come.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let root = Root::open(&dir).map_err(|source| RootPathError::OpenRoot {
            root: dir.clone(),
            source,
        })?;
        Ok(InRoot { root, dir })
    }

    /// The root directory, as the host sees it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn resolve_error(
        &self,
        action: &'static str,
        path: &Path,
    ) -> impl FnOnce(pathrs::error::Error) -> RootPathError {
        let (path, root) = (path.to_path_buf(), self.dir.clone());
        move |source| RootPathError::Resolve {
            action,
            path,
            root,
            source,
        }
    }

    fn io_error(
        &self,
        action: &'static str,
        path: &Path,
    ) -> impl FnOnce(io::Error) -> RootPathError {
        let (path, root) = (path.to_path_buf(), self.dir.clone());
        move |source| RootPathError::Io {
            action,
            path,
            root,
            source,
        }
    }

    /// Resolves `path` inside the root, following symlinks there; `None` when it (or a
    /// directory on the way) does not exist.
    pub fn resolve(&self, path: impl AsRef<Path>) -> Result<Option<Handle>> {
        let path = path.as_ref();
        match self.root.resolve(path) {
            Ok(handle) => Ok(Some(handle)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(self.resolve_error("resolving", path)(e)),
        }
    }

    /// Reads the regular file at `path` inside the root, refusing one larger than
    /// `max_bytes`; `None` when it does not exist.
    pub fn read_bounded(&self, path: impl AsRef<Path>, max_bytes: u64) -> Result<Option<Vec<u8>>> {
        let path = path.as_ref();
        let Some(handle) = self.resolve(path)? else {
            return Ok(None);
        };
        // Checked on the resolved inode itself: a FIFO or a device would hang or never
        // end, and a reopen below reaches this same inode, whatever the path is now.
        let meta = metadata(&handle).map_err(self.io_error("inspecting", path))?;
        if !meta.is_file() {
            return Err(RootPathError::NotRegularFile {
                path: path.to_path_buf(),
                root: self.dir.clone(),
            });
        }
        let too_large = || RootPathError::TooLarge {
            path: path.to_path_buf(),
            root: self.dir.clone(),
            max_bytes,
        };
        if meta.len() > max_bytes {
            return Err(too_large());
        }
        let file = handle
            .reopen(OpenFlags::O_RDONLY)
            .map_err(self.resolve_error("opening", path))?;
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        // The file may grow after the check: read one byte past the limit to see it.
        file.take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(self.io_error("reading", path))?;
        if bytes.len() as u64 > max_bytes {
            return Err(too_large());
        }
        Ok(Some(bytes))
    }

    /// Opens the directory at `path` inside the root for reading (its entries, and
    /// `openat` below it); `None` when nothing is there or it is not a directory.
    pub fn open_dir(&self, path: impl AsRef<Path>) -> Result<Option<File>> {
        let path = path.as_ref();
        let Some(handle) = self.resolve(path)? else {
            return Ok(None);
        };
        let meta = metadata(&handle).map_err(self.io_error("inspecting", path))?;
        if !meta.is_dir() {
            return Ok(None);
        }
        handle
            .reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
            .map(Some)
            .map_err(self.resolve_error("opening", path))
    }

    /// Makes sure a file exists where `path` leads inside the root, so a file can be
    /// bind-mounted there: every symlink on the way, trailing ones too, is followed inside
    /// the root as runc's `securejoin` does, and a missing file is created empty (mode
    /// 0644, with its missing parent directories). So an image whose `/etc/hosts` links
    /// to `/somewhere/hosts` gets the mount at its own `/somewhere/hosts`, never at the
    /// host's. Something there that is not a file is left as it is (the mount then fails,
    /// as with Docker).
    pub fn ensure_file(&self, path: impl AsRef<Path>) -> Result<()> {
        let target = self.resolve_lexically(path.as_ref())?;
        match self.root.resolve_nofollow(&target) {
            Ok(_) => return Ok(()),
            Err(e) if is_missing(&e) => {}
            Err(e) => return Err(self.resolve_error("resolving", &target)(e)),
        }
        let parent = target.parent().unwrap_or(Path::new("/"));
        self.root
            .mkdir_all(parent, &Permissions::from_mode(0o755))
            .map_err(self.resolve_error("creating", parent))?;
        let created = self.root.create_file(
            &target,
            OpenFlags::O_WRONLY | OpenFlags::O_EXCL | OpenFlags::O_NOFOLLOW | OpenFlags::O_CLOEXEC,
            &Permissions::from_mode(0o644),
        );
        match created {
            Ok(_) => Ok(()),
            // Made meanwhile, by whoever: the mount resolves it inside the root again.
            Err(e) if errno_kind(&e) == Some(io::ErrorKind::AlreadyExists) => Ok(()),
            Err(e) => Err(self.resolve_error("creating", &target)(e)),
        }
    }

    /// `path` with every symlink of the root on its way replaced by its target, one
    /// component at a time (`..` stops at the root): the path `securejoin` gives, whose
    /// existing components are all real directories, so its missing ones can be created.
    fn resolve_lexically(&self, path: &Path) -> Result<PathBuf> {
        let mut done = PathBuf::from("/");
        let mut todo = steps(path);
        let mut links = 0;
        while let Some(part) = todo.pop_front() {
            let name = match part {
                Step::Name(name) => name,
                Step::Up => {
                    done.pop();
                    continue;
                }
            };
            let next = done.join(name);
            match self.root.resolve_nofollow(&next) {
                Ok(handle) => {
                    let meta = metadata(&handle).map_err(self.io_error("inspecting", &next))?;
                    if !meta.file_type().is_symlink() {
                        done = next;
                        continue;
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(RootPathError::TooManyLinks {
                            path: path.to_path_buf(),
                            root: self.dir.clone(),
                        });
                    }
                    let link = self
                        .root
                        .readlink(&next)
                        .map_err(self.resolve_error("reading the link", &next))?;
                    if link.is_absolute() {
                        done = PathBuf::from("/");
                    }
                    for step in steps(&link).into_iter().rev() {
                        todo.push_front(step);
                    }
                }
                Err(e) if is_missing(&e) => done = next,
                Err(e) => return Err(self.resolve_error("resolving", &next)(e)),
            }
        }
        Ok(done)
    }
}

impl InRoot {
    /// Makes `link` a new hard link to `target`, both resolved inside the root (a
    /// trailing symlink at `target` is not followed).
    pub fn hard_link(&self, target: impl AsRef<Path>, link: impl AsRef<Path>) -> Result<()> {
        let (target, link) = (target.as_ref(), link.as_ref());
        self.root
            .create(link, &pathrs::InodeType::Hardlink(target.to_path_buf()))
            .map_err(self.resolve_error("linking", link))
    }
}

/// Reads the regular file at `path` inside `root`, at most `max_bytes` of it; `None`
/// when it does not exist. A symlink on the way, even `/etc -> /etc`, resolves inside
/// `root`.
pub fn read_file_bounded(
    root: impl AsRef<Path>,
    path: impl AsRef<Path>,
    max_bytes: u64,
) -> Result<Option<Vec<u8>>> {
    InRoot::open(root)?.read_bounded(path, max_bytes)
}

fn metadata(handle: &Handle) -> io::Result<std::fs::Metadata> {
    let fd: OwnedFd = handle
        .try_clone()
        .map_err(|e| io::Error::other(e.to_string()))?
        .into();
    File::from(fd).metadata()
}

fn errno_kind(e: &pathrs::error::Error) -> Option<io::ErrorKind> {
    match e.kind() {
        pathrs::error::ErrorKind::OsError(Some(errno)) => {
            Some(io::Error::from_raw_os_error(errno).kind())
        }
        _ => None,
    }
}

/// Whether the path, or a directory on its way, does not exist.
fn is_missing(e: &pathrs::error::Error) -> bool {
    matches!(
        errno_kind(e),
        Some(io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
    )
}

/// One step of a walk: a name, or `..`.
enum Step {
    Name(OsString),
    Up,
}

/// The steps of `path` (`.` and the root drop out).
fn steps(path: &Path) -> VecDeque<Step> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(Step::Name(name.to_os_string())),
            Component::ParentDir => Some(Step::Up),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
