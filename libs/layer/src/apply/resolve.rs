//! Finding (and creating) directories inside the target without ever crossing a
//! symlink.
//!
//! How: every member path is canonical and relative (see `path`), and directories are
//! opened relative to a descriptor of the target root:
//!
//! - fast path: one `openat2(root, "a/b/c", RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`.
//!   The kernel refuses any symlink on the way (magic links included) and any escape
//!   from `root`, atomically. We chose NO_SYMLINKS over RESOLVE_IN_ROOT: IN_ROOT would
//!   follow a planted `a -> /etc` to `<root>/etc`, which is safe but silently writes
//!   somewhere the archive did not name; refusing is simpler to reason about, and
//!   layers produced by `docker build`/`diff` never route a path through a symlink.
//! - slow path (openat2 failed, or the kernel is older than 5.6): walk one component
//!   at a time with `openat(parent_fd, name, O_DIRECTORY | O_NOFOLLOW)`, creating
//!   missing directories with `mkdirat`, and naming the exact component that is a
//!   symlink or not a directory in the error.
//!
//! The last directory resolved is cached, since members of one directory usually come
//! together; anything that removes a directory must call [`RootDir::invalidate`].
//! This module must never resolve a path string against `/` or the process cwd, and
//! never open anything but directories.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;

use crate::sys;

/// What to do about a missing directory on the way.
#[derive(Debug, Clone, Copy)]
pub(super) enum Missing {
    Fail,
    /// Create it (mode 0755), owned by `owner` when given.
    Create {
        owner: Option<(u32, u32)>,
    },
}

/// Why a directory could not be opened.
#[derive(Debug)]
pub(super) enum ResolveError {
    /// The component ending at this prefix of the path is a symlink.
    Symlink(Vec<u8>),
    /// The component ending at this prefix exists but is not a directory.
    NotDir(Vec<u8>),
    /// A component is missing and `Missing::Fail` was given.
    Missing,
    Io(io::Error),
}

/// A descriptor of the target root plus a one-entry cache of the last directory.
#[derive(Debug)]
pub(super) struct RootDir {
    root: Rc<OwnedFd>,
    cache: Option<(Vec<u8>, Rc<OwnedFd>)>,
    openat2: bool,
}

impl RootDir {
    pub(super) fn open(target: &Path) -> io::Result<Self> {
        Ok(RootDir {
            root: Rc::new(sys::open_dir_path(target)?),
            cache: None,
            openat2: true,
        })
    }

    pub(super) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Forgets the cached directory (it may have been removed).
    pub(super) fn invalidate(&mut self) {
        self.cache = None;
    }

    /// Caches `fd` as the directory at `rel` (just created or opened by the caller).
    pub(super) fn remember(&mut self, rel: &[u8], fd: OwnedFd) {
        self.cache = Some((rel.to_vec(), Rc::new(fd)));
    }

    /// Opens the directory at canonical relative path `rel` ("" is the root).
    pub(super) fn dir(
        &mut self,
        rel: &[u8],
        missing: Missing,
    ) -> Result<Rc<OwnedFd>, ResolveError> {
        if rel.is_empty() {
            return Ok(Rc::clone(&self.root));
        }
        match &self.cache {
            Some((cached, fd)) if cached == rel => return Ok(Rc::clone(fd)),
            _ => {}
        }
        let fd = Rc::new(self.open_uncached(rel, missing)?);
        self.cache = Some((rel.to_vec(), Rc::clone(&fd)));
        Ok(fd)
    }

    fn open_uncached(&mut self, rel: &[u8], missing: Missing) -> Result<OwnedFd, ResolveError> {
        if self.openat2 {
            let c = sys::cstring(rel).map_err(ResolveError::Io)?;
            match sys::openat2_dir_beneath(self.root.as_fd(), &c) {
                Ok(fd) => return Ok(fd),
                // ENOSYS: kernel < 5.6; EPERM: a seccomp filter that refuses it;
                // E2BIG/EINVAL: a kernel that does not know our flags.
                Err(e) if is_openat2_unsupported(&e) => self.openat2 = false,
                // Anything else (a missing, non-directory or symlink component): the
                // walk below creates what is missing or names the culprit.
                Err(_) => {}
            }
        }
        self.walk(rel, missing)
    }

    fn walk(&self, rel: &[u8], missing: Missing) -> Result<OwnedFd, ResolveError> {
        let mut current: Option<OwnedFd> = None;
        let mut end = 0;
        for component in rel.split(|&b| b == b'/') {
            end += component.len();
            let prefix = &rel[..end];
            end += 1; // the '/' after it
            let name = sys::cstring(component).map_err(ResolveError::Io)?;
            let parent = current.as_ref().map_or(self.root.as_fd(), AsFd::as_fd);
            let next = match sys::open_dir_at(parent, &name) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => match missing {
                    Missing::Fail => return Err(ResolveError::Missing),
                    Missing::Create { owner } => create_dir(parent, &name, owner, prefix)?,
                },
                Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
                    return Err(classify(parent, &name, prefix, e));
                }
                Err(e) => return Err(ResolveError::Io(e)),
            };
            current = Some(next);
        }
        current.ok_or(ResolveError::Missing)
    }
}

fn is_openat2_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSYS | libc::EPERM | libc::E2BIG | libc::EINVAL)
    )
}

/// Makes a missing directory on the way and opens it.
fn create_dir(
    parent: BorrowedFd<'_>,
    name: &CStr,
    owner: Option<(u32, u32)>,
    prefix: &[u8],
) -> Result<OwnedFd, ResolveError> {
    match sys::mkdir_at(parent, name, 0o755) {
        Ok(()) => {}
        // Created meanwhile (only possible if someone else writes the target).
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
        Err(e) => return Err(ResolveError::Io(e)),
    }
    let fd = sys::open_dir_at(parent, name).map_err(|e| classify(parent, name, prefix, e))?;
    if let Some((uid, gid)) = owner {
        sys::fchown(fd.as_fd(), uid, gid).map_err(ResolveError::Io)?;
    }
    // The umask may have narrowed 0755.
    sys::fchmod(fd.as_fd(), 0o755).map_err(ResolveError::Io)?;
    Ok(fd)
}

/// Tells a symlink from a non-directory after `open_dir_at` refused a component.
fn classify(parent: BorrowedFd<'_>, name: &CStr, prefix: &[u8], err: io::Error) -> ResolveError {
    match sys::lstat_at(parent, name) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
            ResolveError::Symlink(prefix.to_vec())
        }
        Ok(st) if st.st_mode & libc::S_IFMT != libc::S_IFDIR => {
            ResolveError::NotDir(prefix.to_vec())
        }
        _ => ResolveError::Io(err),
    }
}
