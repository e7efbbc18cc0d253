//! Creating one member: files, directories, symlinks, hard links, device nodes and
//! fifos, then their owner, mode, xattrs and times.
//!
//! Every creation is `*at` relative to the member's parent directory fd (from
//! `resolve`) and never follows a symlink at the member's own name: regular files are
//! created with `O_CREAT | O_EXCL`, and anything already at the name is removed first
//! (unlinked, or removed recursively if a directory), never opened or truncated, so a
//! lower layer's hard links keep their content. Order matters: chown clears setuid,
//! setgid and `security.capability`, so it comes first, then chmod, then xattrs, then
//! times. This module must never resolve a path on its own.

use std::ffi::CStr;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};

use super::remove::{is_dir_at, remove_all};
use super::resolve::{Missing, ResolveError};
use super::{Applier, ContentSource, io_err};
use crate::archive::{Member, MemberKind};
use crate::error::{LayerError, Result, show};
use crate::path::{MemberPath, WhiteoutKind, whiteout_kind};
use crate::sys;

/// Where an xattr goes: an open fd, or a name in a directory (for symlinks and nodes).
#[derive(Clone, Copy)]
enum XattrTarget<'a> {
    Fd(BorrowedFd<'a>),
    At(BorrowedFd<'a>, &'a CStr),
}

impl Applier<'_> {
    pub(super) fn apply_member(
        &mut self,
        member: &Member,
        content: &mut dyn ContentSource,
    ) -> Result<()> {
        self.entries += 1;
        let path = MemberPath::parse(&member.path)?;
        match whiteout_kind(&path)? {
            WhiteoutKind::None => {}
            WhiteoutKind::Whiteout(hidden) => return self.whiteout(member, &hidden),
            WhiteoutKind::Opaque(dir) => return self.opaque(member, &dir),
            WhiteoutKind::AufsMeta => return Ok(()),
        }
        if matches!(
            member.kind,
            MemberKind::CharDevice | MemberKind::BlockDevice
        ) && !self.opts.allow_devices
        {
            return Err(LayerError::DeviceNotAllowed {
                path: show(&member.path),
            });
        }
        let owner = self.owner(member.uid, member.gid, &member.path)?;
        if path.is_root() {
            return self.root_entry(member, owner);
        }
        self.layer.record(&path);
        let missing = Missing::Create {
            owner: self.implicit_owner(),
        };
        let parent = self
            .root
            .dir(path.parent(), missing)
            .map_err(|e| resolve_error(e, member))?;
        let parent = parent.as_fd();
        let name = sys::cstring(path.name()).map_err(io_err("create", member))?;
        match member.kind {
            MemberKind::File => self.create_file(parent, &name, member, owner, content),
            MemberKind::Dir => self.create_dir(parent, &name, &path, member, owner),
            MemberKind::Symlink => self.create_symlink(parent, &name, member, owner),
            MemberKind::Hardlink => self.create_hardlink(parent, &name, &path, member),
            MemberKind::CharDevice | MemberKind::BlockDevice | MemberKind::Fifo => {
                self.create_node(parent, &name, member, owner)
            }
        }
    }

    /// `./` in the archive: the target directory's own metadata.
    fn root_entry(&mut self, member: &Member, owner: Option<(u32, u32)>) -> Result<()> {
        if member.kind != MemberKind::Dir {
            return Err(LayerError::InvalidEntry {
                path: show(&member.path),
                reason: "the root of a layer must be a directory".to_owned(),
            });
        }
        self.saw_root = true;
        let root = self.root.root();
        // Borrow juggling: metadata calls need `&mut self` for the xattr counter.
        let fd = root
            .try_clone_to_owned()
            .map_err(io_err("open root", member))?;
        self.set_metadata(fd.as_fd(), owner, member)?;
        self.set_xattrs(XattrTarget::Fd(fd.as_fd()), member)?;
        self.dir_times
            .push((MemberPath::from_canonical(Vec::new()), member.mtime));
        Ok(())
    }

    fn create_file(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        member: &Member,
        owner: Option<(u32, u32)>,
        content: &mut dyn ContentSource,
    ) -> Result<()> {
        let create_mode = member.mode & 0o777;
        let mut file = match sys::create_file_at(parent, name, create_mode) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                self.clear(parent, name, member)?;
                sys::create_file_at(parent, name, create_mode)
            }
            other => other,
        }
        .map_err(io_err("create file", member))?;
        loop {
            let n = content.read_content(&mut self.buf)?;
            if n == 0 {
                break;
            }
            file.write_all(&self.buf[..n])
                .map_err(io_err("write file", member))?;
            self.file_bytes += n as u64;
        }
        // Always chmod: O_CREAT's mode is narrowed by the umask or by a default ACL
        // (which a layer can set on a directory), ignores special bits, and chown
        // would clear setuid/setgid anyway.
        self.set_metadata(file.as_fd(), owner, member)?;
        self.set_xattrs(XattrTarget::Fd(file.as_fd()), member)?;
        sys::futimens(file.as_fd(), member.mtime, member.mtime)
            .map_err(io_err("set times of", member))
    }

    fn create_dir(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        path: &MemberPath,
        member: &Member,
        owner: Option<(u32, u32)>,
    ) -> Result<()> {
        match sys::mkdir_at(parent, name, 0o700) {
            Ok(()) => {}
            // A directory over a directory merges (lower content stays); over anything
            // else it replaces.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                if is_dir_at(parent, name).map_err(io_err("inspect", member))? != Some(true) {
                    self.clear(parent, name, member)?;
                    sys::mkdir_at(parent, name, 0o700)
                        .map_err(io_err("create directory", member))?;
                }
            }
            Err(e) => return Err(io_err("create directory", member)(e)),
        }
        let fd = sys::open_dir_at(parent, name).map_err(io_err("open directory", member))?;
        self.set_metadata(fd.as_fd(), owner, member)?;
        self.set_xattrs(XattrTarget::Fd(fd.as_fd()), member)?;
        self.dir_times.push((path.clone(), member.mtime));
        self.root.remember(path.as_bytes(), fd);
        Ok(())
    }

    fn create_symlink(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        member: &Member,
        owner: Option<(u32, u32)>,
    ) -> Result<()> {
        // The target is stored, never resolved: it only means something inside the
        // container.
        if member.link.is_empty() {
            return Err(invalid(member, "symlink with an empty target"));
        }
        let target =
            sys::cstring(&member.link).map_err(|_| invalid(member, "symlink target has a NUL"))?;
        self.create_with(parent, name, member, |p, n| sys::symlink_at(&target, p, n))?;
        if let Some((uid, gid)) = owner {
            sys::lchown_at(parent, name, uid, gid).map_err(io_err("chown", member))?;
        }
        self.set_xattrs(XattrTarget::At(parent, name), member)?;
        sys::lutimens_at(parent, name, member.mtime, member.mtime)
            .map_err(io_err("set times of", member))
    }

    fn create_hardlink(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        path: &MemberPath,
        member: &Member,
    ) -> Result<()> {
        let refuse = |reason| LayerError::BadHardlink {
            path: show(&member.path),
            target: show(&member.link),
            reason,
        };
        let target = MemberPath::parse(&member.link).map_err(|e| match e {
            LayerError::Escape { .. } => refuse("the target is outside the layer root"),
            _ => refuse("the target is not a valid path"),
        })?;
        if target.is_root() {
            return Err(refuse("the target is the root directory"));
        }
        if &target == path {
            return Err(refuse("it links to itself"));
        }
        let target_parent = self
            .root
            .dir(target.parent(), Missing::Fail)
            .map_err(|e| match e {
                ResolveError::Symlink(_) => refuse("the target's path goes through a symlink"),
                ResolveError::NotDir(_) | ResolveError::Missing => {
                    refuse("the target does not exist")
                }
                ResolveError::Io(e) => io_err("open hardlink target", member)(e),
            })?;
        let target_name =
            sys::cstring(target.name()).map_err(|_| refuse("the target is not a valid path"))?;
        let st = match sys::lstat_at(target_parent.as_fd(), &target_name) {
            Ok(st) => st,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                return Err(refuse("the target does not exist"));
            }
            Err(e) => return Err(io_err("inspect hardlink target", member)(e)),
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(refuse("the target is not a regular file"));
        }
        // Already linked (the same layer applied twice): nothing to do.
        let same_inode = sys::lstat_at(parent, name)
            .is_ok_and(|existing| existing.st_dev == st.st_dev && existing.st_ino == st.st_ino);
        if same_inode {
            return Ok(());
        }
        let target_parent = target_parent.as_fd();
        self.create_with(parent, name, member, |p, n| {
            sys::link_at(target_parent, &target_name, p, n)
        })
    }

    fn create_node(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        member: &Member,
        owner: Option<(u32, u32)>,
    ) -> Result<()> {
        let file_type = match member.kind {
            MemberKind::CharDevice => libc::S_IFCHR,
            MemberKind::BlockDevice => libc::S_IFBLK,
            _ => libc::S_IFIFO,
        };
        let dev = sys::makedev(member.dev_major, member.dev_minor);
        self.create_with(parent, name, member, |p, n| {
            sys::mknod_at(p, n, file_type | (member.mode & 0o777), dev)
        })?;
        if let Some((uid, gid)) = owner {
            sys::lchown_at(parent, name, uid, gid).map_err(io_err("chown", member))?;
        }
        // Just created by us, in a directory only we write: cannot be a symlink.
        sys::chmod_new_node_at(parent, name, member.mode).map_err(io_err("chmod", member))?;
        self.set_xattrs(XattrTarget::At(parent, name), member)?;
        sys::lutimens_at(parent, name, member.mtime, member.mtime)
            .map_err(io_err("set times of", member))
    }

    /// Runs `make`; if something is in the way, removes it and runs `make` again.
    pub(super) fn create_with(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        member: &Member,
        make: impl Fn(BorrowedFd<'_>, &CStr) -> io::Result<()>,
    ) -> Result<()> {
        match make(parent, name) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                self.clear(parent, name, member)?;
                make(parent, name)
            }
            other => other,
        }
        .map_err(io_err("create", member))
    }

    /// Removes whatever is at `name` so a member can take its place.
    pub(super) fn clear(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        member: &Member,
    ) -> Result<()> {
        if is_dir_at(parent, name).map_err(io_err("inspect", member))? == Some(true) {
            // The cached directory may be inside what goes away.
            self.root.invalidate();
        }
        remove_all(parent, name).map_err(io_err("remove existing", member))
    }

    /// Owner, then mode.
    fn set_metadata(
        &mut self,
        fd: BorrowedFd<'_>,
        owner: Option<(u32, u32)>,
        member: &Member,
    ) -> Result<()> {
        if let Some((uid, gid)) = owner {
            sys::fchown(fd, uid, gid).map_err(io_err("chown", member))?;
        }
        sys::fchmod(fd, member.mode).map_err(io_err("chmod", member))
    }

    fn set_xattrs(&mut self, target: XattrTarget<'_>, member: &Member) -> Result<()> {
        for (name, value) in &member.xattrs {
            // A layer must not steer overlayfs (redirects, metacopy, opaque flags): only
            // berth's own whiteout handling sets those.
            if name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.") {
                self.skip_xattr(member, name, "overlayfs-internal attribute");
                continue;
            }
            let Ok(cname) = sys::cstring(name) else {
                self.skip_xattr(member, name, "name contains a NUL");
                continue;
            };
            let result = match target {
                XattrTarget::Fd(fd) => sys::fsetxattr(fd, &cname, value),
                XattrTarget::At(dir, file) => sys::lsetxattr_at(dir, file, &cname, value),
            };
            match result {
                Ok(()) => {}
                Err(e) if is_rejected_xattr(&e) => {
                    self.skip_xattr(member, name, "refused by the filesystem");
                }
                Err(e) => return Err(io_err("set xattr on", member)(e)),
            }
        }
        Ok(())
    }

    fn skip_xattr(&mut self, member: &Member, name: &[u8], why: &str) {
        self.skipped_xattrs += 1;
        tracing::warn!(
            entry = %show(&member.path),
            xattr = %show(name),
            "skipping extended attribute: {why}"
        );
    }
}

/// Errors that mean "this filesystem (or this kind of file) does not take that xattr".
fn is_rejected_xattr(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP | libc::EPERM | libc::EINVAL | libc::ERANGE | libc::E2BIG)
    )
}

pub(super) fn resolve_error(e: ResolveError, member: &Member) -> LayerError {
    match e {
        ResolveError::Symlink(prefix) => LayerError::ThroughSymlink {
            path: show(&member.path),
            symlink: show(&prefix),
        },
        ResolveError::NotDir(prefix) => LayerError::ParentNotDirectory {
            path: show(&member.path),
            parent: show(&prefix),
        },
        ResolveError::Missing => LayerError::io(
            "open parent of",
            show(&member.path),
            io::Error::from(io::ErrorKind::NotFound),
        ),
        ResolveError::Io(e) => LayerError::io("open parent of", show(&member.path), e),
    }
}

fn invalid(member: &Member, reason: &str) -> LayerError {
    LayerError::InvalidEntry {
        path: show(&member.path),
        reason: reason.to_owned(),
    }
}
