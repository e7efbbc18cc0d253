//! Applying a layer: unpacking a (possibly compressed) tar into a directory, with OCI
//! or overlayfs whiteout handling.
//!
//! The contract: [`apply`] writes straight into the directory it is given and leaves
//! whatever it wrote when it fails; callers that need "all or nothing" (everyone who
//! publishes the result) use [`apply_to_new_dir`], which unpacks into a private
//! sibling directory and renames it into place only on success.
//!
//! What it must never do: write, create, chown or remove anything outside the target
//! directory, whatever the archive says; follow a symlink while resolving a member's
//! path; trust a size, count or length from the archive before checking it against
//! [`Limits`]. Durability: no per-file fsync; with [`ApplyOptions::sync`] the target's
//! filesystem is flushed once (`syncfs`) at the end.

mod create;
mod remove;
mod resolve;
mod staging;
mod whiteout;

use std::io::{BufReader, Read};
use std::path::Path;

pub use staging::apply_to_new_dir;

use crate::archive::Member;
use crate::archive::reader::TarReader;
use crate::compression::{Compression, open_decoder};
use crate::digest::{DigestingReader, Sha256Digest};
use crate::error::{LayerError, Result, show};
use crate::limits::Limits;
use crate::path::MemberPath;
use crate::sys::{self, Time};

use resolve::RootDir;
use whiteout::LayerPaths;

/// Read buffer in front of the tar parser, and copy buffer for file content.
const IO_BUFFER: usize = 256 << 10;

/// How deletions are expressed in the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhiteoutFormat {
    /// Apply onto the lower layers' content in place: `.wh.NAME` deletes, opaque
    /// markers empty the directory of lower content.
    #[default]
    Oci,
    /// Unpack into an empty directory meant as one overlayfs lower (or upper) layer:
    /// `.wh.NAME` becomes a 0:0 character device and an opaque marker becomes the
    /// `trusted.overlay.opaque=y` xattr on its directory.
    Overlay,
}

/// A user-namespace style id map: container id `n < size` becomes host id `base + n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    /// Host uid of container uid 0.
    pub uid_base: u32,
    /// Host gid of container gid 0.
    pub gid_base: u32,
    /// Number of ids mapped; ids at or above it are refused.
    pub size: u32,
}

/// Who owns unpacked files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ownership {
    /// The uid/gid in the archive, as is (needs `CAP_CHOWN`; berth's runner is root).
    #[default]
    FromArchive,
    /// The archive's ids shifted through an [`IdMap`].
    Remap(IdMap),
    /// Leave files owned by the user running the unpack (rootless).
    CurrentUser,
}

/// How to apply a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// OCI (delete in place) or overlayfs whiteouts.
    pub whiteout_format: WhiteoutFormat,
    /// Who owns the result.
    pub ownership: Ownership,
    /// Create character and block devices (fifos are always allowed). Off by default:
    /// images have no business shipping device nodes.
    pub allow_devices: bool,
    /// Bounds on the archive.
    pub limits: Limits,
    /// Flush the target filesystem once (`syncfs`) after the last member, so a
    /// directory renamed into place afterwards survives a crash with its content.
    pub sync: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            whiteout_format: WhiteoutFormat::Oci,
            ownership: Ownership::FromArchive,
            allow_devices: false,
            limits: Limits::default(),
            sync: true,
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyStats {
    /// Archive members processed (including whiteouts; not extension headers).
    pub entries: u64,
    /// Bytes of regular-file content written.
    pub file_bytes: u64,
    /// Size of the uncompressed tar stream.
    pub tar_bytes: u64,
    /// Whiteout and opaque markers processed.
    pub whiteouts: u64,
    /// Extended attributes not set because the filesystem refused them, or because
    /// they are overlayfs-internal (`trusted.overlay.*`, `user.overlay.*`).
    pub skipped_xattrs: u64,
    /// Compression detected on the input.
    pub compression: Compression,
    /// sha256 of the uncompressed tar stream: the layer's diff ID.
    pub diff_id: Sha256Digest,
}

/// Unpacks the layer read from `reader` (plain tar, gzip or zstd, detected from its
/// first bytes) into the existing directory `target`.
///
/// On error, whatever was already written stays: apply into a fresh directory and
/// discard it on failure, or use [`apply_to_new_dir`].
pub fn apply<R: Read>(reader: R, target: &Path, opts: &ApplyOptions) -> Result<ApplyStats> {
    apply_inner(reader, target, opts).map(|(stats, _)| stats)
}

/// [`apply`], also telling whether the archive carried an entry for the root itself.
fn apply_inner<R: Read>(
    reader: R,
    target: &Path,
    opts: &ApplyOptions,
) -> Result<(ApplyStats, bool)> {
    let (compression, decoded) = open_decoder(reader)?;
    let digesting = DigestingReader::new(decoded, opts.limits.max_total_bytes);
    let buffered = BufReader::with_capacity(IO_BUFFER, digesting);
    let mut tar = TarReader::new(buffered, opts.limits.clone(), compression);
    let mut applier = Applier::new(target, opts)?;
    while let Some(member) = tar.next_member()? {
        applier.apply_member(&member, &mut tar)?;
    }
    // Read to the end before touching timestamps or syncing: the tail is hashed too.
    let (diff_id, tar_bytes) = tar.finish()?.into_inner().finish();
    applier.finish()?;
    let stats = ApplyStats {
        entries: applier.entries,
        file_bytes: applier.file_bytes,
        tar_bytes,
        whiteouts: applier.whiteouts,
        skipped_xattrs: applier.skipped_xattrs,
        compression,
        diff_id,
    };
    Ok((stats, applier.saw_root))
}

/// Where file content comes from (the tar reader, positioned after a header).
pub(crate) trait ContentSource {
    /// Reads content of the current member; `Ok(0)` at its end.
    fn read_content(&mut self, buf: &mut [u8]) -> Result<usize>;
}

impl<R: Read> ContentSource for TarReader<R> {
    fn read_content(&mut self, buf: &mut [u8]) -> Result<usize> {
        TarReader::read_content(self, buf)
    }
}

/// The state of one apply.
struct Applier<'o> {
    opts: &'o ApplyOptions,
    target: &'o Path,
    root: RootDir,
    /// Paths this layer wrote, and their ancestors.
    layer: LayerPaths,
    /// Directory mtimes, set at the end since creating children changes them.
    dir_times: Vec<(MemberPath, Time)>,
    buf: Vec<u8>,
    saw_root: bool,
    entries: u64,
    file_bytes: u64,
    whiteouts: u64,
    skipped_xattrs: u64,
}

impl<'o> Applier<'o> {
    fn new(target: &'o Path, opts: &'o ApplyOptions) -> Result<Self> {
        let root = RootDir::open(target).map_err(|e| {
            LayerError::io("open target directory", target.display().to_string(), e)
        })?;
        Ok(Applier {
            opts,
            target,
            root,
            layer: LayerPaths::default(),
            dir_times: Vec::new(),
            buf: vec![0u8; IO_BUFFER],
            saw_root: false,
            entries: 0,
            file_bytes: 0,
            whiteouts: 0,
            skipped_xattrs: 0,
        })
    }

    /// Owner for an archive uid/gid under the configured [`Ownership`]; `None` means
    /// "do not chown".
    fn owner(&self, uid: u64, gid: u64, path: &[u8]) -> Result<Option<(u32, u32)>> {
        let out_of_range = |kind, id, size| LayerError::IdOutOfRange {
            path: show(path),
            kind,
            id,
            size,
        };
        match self.opts.ownership {
            Ownership::CurrentUser => Ok(None),
            Ownership::FromArchive => {
                let u = u32::try_from(uid).map_err(|_| out_of_range("uid", uid, u32::MAX))?;
                let g = u32::try_from(gid).map_err(|_| out_of_range("gid", gid, u32::MAX))?;
                Ok(Some((u, g)))
            }
            Ownership::Remap(map) => {
                let shift = |id: u64, base: u32, kind| {
                    u32::try_from(id)
                        .ok()
                        .filter(|&id| id < map.size)
                        .and_then(|id| base.checked_add(id))
                        .ok_or_else(|| out_of_range(kind, id, map.size))
                };
                Ok(Some((
                    shift(uid, map.uid_base, "uid")?,
                    shift(gid, map.gid_base, "gid")?,
                )))
            }
        }
    }

    /// Owner of directories the archive implies but does not list (root's).
    fn implicit_owner(&self) -> Option<(u32, u32)> {
        self.owner(0, 0, b"").ok().flatten()
    }

    /// Sets the deferred directory mtimes and flushes the filesystem if asked.
    fn finish(&mut self) -> Result<()> {
        let dir_times = std::mem::take(&mut self.dir_times);
        self.root.invalidate();
        for (path, mtime) in dir_times.iter().rev() {
            // A later whiteout may have removed it: nothing to do then.
            let Ok(fd) = self.root.dir(path.as_bytes(), resolve::Missing::Fail) else {
                continue;
            };
            sys::futimens(std::os::fd::AsFd::as_fd(&*fd), *mtime, *mtime)
                .map_err(|e| LayerError::io("set directory times", show(path.as_bytes()), e))?;
        }
        if self.opts.sync {
            sys::syncfs(self.root.root()).map_err(|e| {
                LayerError::io("sync filesystem of", self.target.display().to_string(), e)
            })?;
        }
        Ok(())
    }
}

/// Adds the member path to an I/O error.
fn io_err<'m>(
    op: &'static str,
    member: &'m Member,
) -> impl FnOnce(std::io::Error) -> LayerError + 'm {
    move |e| LayerError::io(op, show(&member.path), e)
}

#[cfg(test)]
mod tests;
