//! Whiteouts and opaque directories.
//!
//! OCI format (apply in place): `dir/.wh.NAME` removes `dir/NAME` and
//! `dir/.wh..wh..opq` removes everything in `dir` — except what *this* layer wrote,
//! since a whiteout only hides lower layers. Members may come before or after the
//! marker in the archive, so every path this layer writes (and its ancestors) is
//! recorded in [`LayerPaths`], and clearing walks down only into directories this
//! layer touched, removing everything else.
//!
//! Overlay format (one layer per directory): a whiteout becomes a 0:0 character device
//! and an opaque marker the `trusted.overlay.opaque=y` xattr, for overlayfs to honour
//! at mount time. Nothing is removed then, except a lower entry at the same name when
//! the target was not empty.
//!
//! Whiteout files themselves are never created. Removal goes through `remove` (by fd,
//! no symlink following) and never through a path this layer did not name.

use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd};

use super::create::resolve_error;
use super::remove::{is_dir_at, remove_all};
use super::resolve::{Missing, ResolveError};
use super::{Applier, WhiteoutFormat, io_err};
use crate::archive::Member;
use crate::error::{LayerError, Result, show};
use crate::path::MemberPath;
use crate::sys;

/// xattr overlayfs reads to treat a directory as opaque.
const OVERLAY_OPAQUE_XATTR: &CStr = c"trusted.overlay.opaque";

/// Every path the current layer wrote, with all its ancestors.
#[derive(Debug, Default)]
pub(super) struct LayerPaths(HashSet<Box<[u8]>>);

impl LayerPaths {
    pub(super) fn record(&mut self, path: &MemberPath) {
        if !self.0.insert(path.as_bytes().into()) {
            return;
        }
        for ancestor in path.ancestors() {
            // An ancestor already present has its own ancestors recorded too.
            if !self.0.insert(ancestor.into()) {
                break;
            }
        }
    }

    pub(super) fn contains(&self, path: &MemberPath) -> bool {
        self.0.contains(path.as_bytes())
    }
}

impl Applier<'_> {
    /// `dir/.wh.NAME`: hide `hidden` (= `dir/NAME`).
    pub(super) fn whiteout(&mut self, member: &Member, hidden: &MemberPath) -> Result<()> {
        self.whiteouts += 1;
        match self.opts.whiteout_format {
            WhiteoutFormat::Oci => {
                let Some(parent) = self.existing_dir(hidden.parent(), member)? else {
                    return Ok(()); // nothing there to hide
                };
                self.clear_lower(parent.as_fd(), hidden, member)
            }
            WhiteoutFormat::Overlay => {
                let owner = self.implicit_owner();
                let dir = MemberPath::from_canonical(hidden.parent().to_vec());
                if !dir.is_root() {
                    self.layer.record(&dir);
                }
                let parent = self
                    .root
                    .dir(dir.as_bytes(), Missing::Create { owner })
                    .map_err(|e| resolve_error(e, member))?;
                let name = name_of(hidden, member)?;
                if self.layer.contains(hidden) {
                    // This layer has its own `hidden`: the whiteout only hides lower
                    // content, which for a directory means making it opaque.
                    if is_dir_at(parent.as_fd(), &name).map_err(io_err("inspect", member))?
                        == Some(true)
                    {
                        let fd = sys::open_dir_at(parent.as_fd(), &name)
                            .map_err(io_err("open", member))?;
                        return mark_opaque(fd.as_fd(), member);
                    }
                    return Ok(());
                }
                let whiteout = |p: BorrowedFd<'_>, n: &CStr| {
                    sys::mknod_at(p, n, libc::S_IFCHR, sys::makedev(0, 0))
                };
                self.create_with(parent.as_fd(), &name, member, whiteout)
            }
        }
    }

    /// `dir/.wh..wh..opq`: `dir` hides everything lower layers put in it.
    pub(super) fn opaque(&mut self, member: &Member, dir: &MemberPath) -> Result<()> {
        self.whiteouts += 1;
        match self.opts.whiteout_format {
            WhiteoutFormat::Oci => {
                let Some(fd) = self.existing_dir(dir.as_bytes(), member)? else {
                    return Ok(());
                };
                let children = sys::read_dir_names(fd.as_fd()).map_err(io_err("list", member))?;
                for child in children {
                    let child_path = dir.join(child.to_bytes());
                    self.clear_lower(fd.as_fd(), &child_path, member)?;
                }
                Ok(())
            }
            WhiteoutFormat::Overlay => {
                if !dir.is_root() {
                    self.layer.record(dir);
                }
                let owner = self.implicit_owner();
                let fd = self
                    .root
                    .dir(dir.as_bytes(), Missing::Create { owner })
                    .map_err(|e| resolve_error(e, member))?;
                mark_opaque(fd.as_fd(), member)
            }
        }
    }

    /// The directory at `rel` if it exists; `None` if it (or a parent) is missing or
    /// not a directory. A symlink on the way is an error, as for any member.
    fn existing_dir(
        &mut self,
        rel: &[u8],
        member: &Member,
    ) -> Result<Option<std::rc::Rc<std::os::fd::OwnedFd>>> {
        match self.root.dir(rel, Missing::Fail) {
            Ok(fd) => Ok(Some(fd)),
            Err(ResolveError::Missing | ResolveError::NotDir(_)) => Ok(None),
            Err(e) => Err(resolve_error(e, member)),
        }
    }

    /// Removes `path` (in `parent`) unless this layer wrote it; in a directory this
    /// layer wrote into, removes the children it did not write, recursively.
    fn clear_lower(
        &mut self,
        parent: BorrowedFd<'_>,
        path: &MemberPath,
        member: &Member,
    ) -> Result<()> {
        let name = name_of(path, member)?;
        if !self.layer.contains(path) {
            self.root.invalidate();
            return remove_all(parent, &name).map_err(io_err("remove whited-out", member));
        }
        if is_dir_at(parent, &name).map_err(io_err("inspect", member))? != Some(true) {
            return Ok(());
        }
        let dir = sys::open_dir_at(parent, &name).map_err(io_err("open", member))?;
        let children = sys::read_dir_names(dir.as_fd()).map_err(io_err("list", member))?;
        for child in children {
            self.clear_lower(dir.as_fd(), &path.join(child.to_bytes()), member)?;
        }
        Ok(())
    }
}

fn mark_opaque(dir: BorrowedFd<'_>, member: &Member) -> Result<()> {
    sys::fsetxattr(dir, OVERLAY_OPAQUE_XATTR, b"y").map_err(|e| {
        LayerError::io(
            "set trusted.overlay.opaque (needs root and a filesystem with trusted xattrs) for",
            show(&member.path),
            e,
        )
    })
}

fn name_of(path: &MemberPath, member: &Member) -> Result<CString> {
    sys::cstring(path.name()).map_err(io_err("name", member))
}
