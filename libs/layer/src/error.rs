//! The one error type of the layer codec.
//!
//! Every message names what was wrong and, when an archive member is to blame, which
//! member (its path as written in the archive, quoted). Messages never include file
//! contents. Variants are matched by tests and callers, so add new ones rather than
//! overloading the meaning of an existing one.

use std::io;

use crate::compression::Compression;
use crate::limits::Limit;

/// Everything that can go wrong while applying or diffing a layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// A member's path is absolute or climbs out with `..`.
    #[error("layer entry {path:?} escapes the target directory ({reason})")]
    Escape {
        /// The member's path as written in the archive.
        path: String,
        /// Why the path escapes (`".." component`, `absolute path`).
        reason: &'static str,
    },

    /// Reaching a member would mean going through a symbolic link. berth never follows
    /// symlinks while applying: they are resolved inside the container, later.
    #[error(
        "layer entry {path:?} would be written through the symlink {symlink:?}; \
         berth never follows symlinks while applying a layer"
    )]
    ThroughSymlink {
        /// The member's path.
        path: String,
        /// The path of the symlink in its way.
        symlink: String,
    },

    /// A parent of a member exists but is not a directory.
    #[error("layer entry {path:?} cannot be created: {parent:?} is not a directory")]
    ParentNotDirectory {
        /// The member's path.
        path: String,
        /// The path of the non-directory in its way.
        parent: String,
    },

    /// A hard link points outside the target, at something missing, or at something
    /// that is not a regular file.
    #[error("hardlink {path:?} -> {target:?} is refused: {reason}")]
    BadHardlink {
        /// The member's path.
        path: String,
        /// The link target as written in the archive.
        target: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// A device node in a layer applied without `ApplyOptions::allow_devices`.
    #[error(
        "layer entry {path:?} is a device node; device nodes are only created when \
         ApplyOptions::allow_devices is set"
    )]
    DeviceNotAllowed {
        /// The member's path.
        path: String,
    },

    /// A member of a kind berth does not unpack (sparse files, multi-volume parts...).
    #[error("layer entry {path:?} has unsupported tar type {kind}")]
    UnsupportedEntry {
        /// The member's path.
        path: String,
        /// The tar type flag or a description.
        kind: String,
    },

    /// A member's path or link target is malformed (empty, NUL bytes, `.wh.` misuse).
    #[error("layer entry {path:?} is invalid: {reason}")]
    InvalidEntry {
        /// The member's path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A configured limit was exceeded; the layer is refused.
    #[error(
        "layer exceeds the {limit} limit{at}: {value} > {max}; \
         raise Limits::{field} if this layer is trusted",
        at = path.as_ref().map(|p| format!(" at entry {p:?}")).unwrap_or_default(),
        field = limit.field_name(),
    )]
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// The member being read when the limit was hit, if any.
        path: Option<String>,
        /// The value seen (at least; reading stops at the limit).
        value: u64,
        /// The configured maximum.
        max: u64,
    },

    /// The archive ends before it should.
    #[error("layer is truncated: {detail}")]
    Truncated {
        /// Where it ends.
        detail: String,
    },

    /// A tar header or extended header is malformed.
    #[error("layer is not a valid tar archive at byte {offset}: {detail}")]
    CorruptTar {
        /// Offset of the header in the uncompressed stream.
        offset: u64,
        /// What is wrong.
        detail: String,
    },

    /// The compressed stream is corrupt or truncated.
    #[error("{compression} stream of the layer is corrupt or truncated: {source}")]
    Decompress {
        /// The compression detected.
        compression: Compression,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },

    /// The layer uses a compression berth does not read.
    #[error("layer is compressed with {0}; berth reads plain tar, gzip and zstd layers")]
    UnsupportedCompression(&'static str),

    /// A uid or gid does not fit the configured id map.
    #[error("layer entry {path:?} is owned by {kind} {id}, outside the id map of size {size}")]
    IdOutOfRange {
        /// The member's path.
        path: String,
        /// `"uid"` or `"gid"`.
        kind: &'static str,
        /// The id in the archive.
        id: u64,
        /// The size of the map.
        size: u32,
    },

    /// `apply_to_new_dir` was given a directory that already exists.
    #[error("{path} already exists; a layer is only unpacked into a new directory")]
    AlreadyExists {
        /// The final directory.
        path: String,
    },

    /// The directory being diffed holds something a layer cannot carry.
    #[error("cannot diff {path:?}: {reason}")]
    Unrepresentable {
        /// The path, relative to the diffed directory.
        path: String,
        /// Why.
        reason: String,
    },

    /// A filesystem operation failed.
    #[error("{op} {path:?}: {source}")]
    Io {
        /// What was being done (`"create file"`, `"read layer"`...).
        op: &'static str,
        /// The path involved (a member path, or a host path for the target itself).
        path: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Shorthand used across the crate.
pub type Result<T, E = LayerError> = std::result::Result<T, E>;

impl LayerError {
    pub(crate) fn io(op: &'static str, path: impl Into<String>, source: io::Error) -> Self {
        LayerError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Renders archive path bytes for messages (lossy, never fails).
pub(crate) fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
