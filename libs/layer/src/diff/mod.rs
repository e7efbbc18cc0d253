//! Diffing a directory into a layer: a plain directory (every file is an addition, as
//! for a base layer or `docker import`) or an overlayfs upper directory (whose
//! deletions and opaque directories become OCI whiteouts).
//!
//! The output is deterministic: members sorted by path bytes, no atime/ctime, no
//! user/group names, mtimes optionally clamped, hard links within the tree emitted as
//! tar hard links to the first path (in sorted order) of the same inode, and
//! deterministic compression. The same tree gives the same bytes. Extended attributes
//! are carried except overlayfs bookkeeping (`trusted.overlay.*`, `user.overlay.*`) and
//! the host's `security.selinux` labels; sockets are skipped with a warning. It must
//! never follow a symlink in the tree, nor write anything to the tree.

mod walk;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::archive::MemberKind;
use crate::archive::writer::{MemberHeader, TarWriter};
use crate::compression::{Compression, Encoder};
use crate::digest::{DigestingWriter, Sha256Digest};
use crate::error::{LayerError, Result, show};
use crate::sys;

use walk::{Planned, Source};

/// What the directory to diff is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiffSource {
    /// A plain directory compared with nothing: every file is an addition.
    #[default]
    Plain,
    /// An overlayfs upper directory: 0:0 character devices are deletions and
    /// directories with `trusted.overlay.opaque=y` (or `user.overlay.opaque=y`) are
    /// opaque. Mount overlays whose upper dirs become layers with
    /// `redirect_dir=off,metacopy=off`.
    OverlayUpper,
}

/// How to diff.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiffOptions {
    /// Plain directory or overlay upper directory.
    pub source: DiffSource,
    /// Compression of the output.
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH`: any mtime later than this becomes this.
    pub clamp_mtime: Option<i64>,
}

/// What a diff produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffStats {
    /// Members written (whiteouts included, PAX headers not).
    pub entries: u64,
    /// sha256 of the uncompressed tar: the layer's diff ID.
    pub diff_id: Sha256Digest,
    /// Size of the uncompressed tar.
    pub uncompressed_size: u64,
    /// sha256 of the bytes written to the writer: the layer's blob digest.
    pub digest: Sha256Digest,
    /// Number of bytes written to the writer.
    pub size: u64,
    /// Compression of the written bytes.
    pub compression: Compression,
}

/// Writes the layer made of `dir` to `writer`.
pub fn diff<W: Write>(dir: &Path, writer: W, opts: &DiffOptions) -> Result<DiffStats> {
    let plan = walk::plan(dir, opts.source == DiffSource::OverlayUpper)?;
    let write_err = |e| LayerError::io("write layer", "<output>", e);

    let blob = DigestingWriter::new(BufWriter::with_capacity(256 << 10, writer));
    let encoder = Encoder::new(opts.compression, blob).map_err(write_err)?;
    let mut tar = TarWriter::new(DigestingWriter::new(encoder));

    // First path (in output order) of each multiply-linked regular file.
    let mut first_link: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    for planned in &plan {
        write_member(&mut tar, planned, opts, &mut first_link)?;
    }

    let (encoder, diff_id, uncompressed_size) = tar.finish().map_err(write_err)?.finish();
    let blob = encoder.finish().map_err(write_err)?;
    let (mut out, digest, size) = blob.finish();
    out.flush().map_err(write_err)?;
    Ok(DiffStats {
        entries: plan.len() as u64,
        diff_id,
        uncompressed_size,
        digest,
        size,
        compression: opts.compression,
    })
}

fn write_member<W: Write>(
    tar: &mut TarWriter<W>,
    planned: &Planned,
    opts: &DiffOptions,
    first_link: &mut HashMap<(u64, u64), Vec<u8>>,
) -> Result<()> {
    let clamp = |mtime: i64| opts.clamp_mtime.map_or(mtime, |max| mtime.min(max));
    let path = planned.path.as_slice();
    let write_err = |e| LayerError::io("write layer", show(path), e);
    let (meta, xattrs, host) = match &planned.source {
        Source::Whiteout { meta } | Source::OpaqueMarker { meta } => {
            let mode = match planned.source {
                Source::OpaqueMarker { .. } => meta.mode() & 0o777,
                _ => 0o600,
            };
            let header = MemberHeader {
                kind: MemberKind::File,
                path,
                link: b"",
                mode,
                uid: u64::from(meta.uid()),
                gid: u64::from(meta.gid()),
                mtime: clamp(meta.mtime()),
                size: 0,
                dev_major: 0,
                dev_minor: 0,
                xattrs: &[],
            };
            return tar.write_header(&header).map_err(write_err);
        }
        Source::Node { host, meta, xattrs } => (meta, xattrs, host),
    };

    let file_type = meta.file_type();
    let mut link: Vec<u8> = Vec::new();
    let mut size = 0;
    let kind = if file_type.is_dir() {
        MemberKind::Dir
    } else if file_type.is_symlink() {
        link = std::fs::read_link(host)
            .map_err(|e| LayerError::io("read symlink", show(path), e))?
            .into_os_string()
            .into_encoded_bytes();
        MemberKind::Symlink
    } else if file_type.is_file() {
        let key = (meta.dev(), meta.ino());
        match (meta.nlink() > 1).then(|| first_link.get(&key)).flatten() {
            Some(first) => {
                link = first.clone();
                MemberKind::Hardlink
            }
            None => {
                if meta.nlink() > 1 {
                    first_link.insert(key, path.to_vec());
                }
                size = meta.len();
                MemberKind::File
            }
        }
    } else if file_type.is_char_device() {
        MemberKind::CharDevice
    } else if file_type.is_block_device() {
        MemberKind::BlockDevice
    } else if file_type.is_fifo() {
        MemberKind::Fifo
    } else {
        return Err(LayerError::Unrepresentable {
            path: show(path),
            reason: "unknown file type".to_owned(),
        });
    };
    let (dev_major, dev_minor) = match kind {
        MemberKind::CharDevice | MemberKind::BlockDevice => {
            (sys::dev_major(meta.rdev()), sys::dev_minor(meta.rdev()))
        }
        _ => (0, 0),
    };
    let header = MemberHeader {
        kind,
        path,
        link: &link,
        mode: meta.mode() & 0o7777,
        uid: u64::from(meta.uid()),
        gid: u64::from(meta.gid()),
        mtime: clamp(meta.mtime()),
        size,
        dev_major,
        dev_minor,
        xattrs: if kind == MemberKind::Hardlink {
            &[]
        } else {
            xattrs
        },
    };
    tar.write_header(&header).map_err(write_err)?;
    if kind == MemberKind::File {
        let mut file = open_no_follow(host).map_err(|e| LayerError::io("open", show(path), e))?;
        tar.copy_content(&mut file, size).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                LayerError::Unrepresentable {
                    path: show(path),
                    reason: "the file shrank while it was being read".to_owned(),
                }
            } else {
                LayerError::io("copy", show(path), e)
            }
        })?;
    }
    Ok(())
}

fn open_no_follow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)
}
