//! Recursive removal by directory descriptor.
//!
//! Used for whiteouts, opaque directories and members that replace a directory. It
//! works only through `unlinkat` and `openat(O_NOFOLLOW)` relative to a parent fd, so
//! a symlink in the tree is removed, never followed. It must never take a path string.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use crate::sys;

/// Removes `name` in `parent`, whatever it is; a directory with all its content. A
/// missing `name` is not an error.
pub(super) fn remove_all(parent: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    match sys::unlink_at(parent, name, false) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        // Linux says EISDIR for a directory; some filesystems say EPERM.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EISDIR | libc::EPERM)) => {}
        Err(e) => return Err(e),
    }
    let dir = sys::open_dir_at(parent, name)?;
    for child in sys::read_dir_names(dir.as_fd())? {
        remove_all(dir.as_fd(), &child)?;
    }
    drop(dir);
    sys::unlink_at(parent, name, true)
}

/// What is at `name`: `None` for nothing, `Some(true)` for a directory (a symlink to
/// one is not).
pub(super) fn is_dir_at(parent: BorrowedFd<'_>, name: &CStr) -> io::Result<Option<bool>> {
    match sys::lstat_at(parent, name) {
        Ok(st) => Ok(Some(st.st_mode & libc::S_IFMT == libc::S_IFDIR)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}
