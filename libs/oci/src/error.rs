//! The one error type of berth-oci. Every message says what was wrong and, where the
//! fix is not obvious, what to do next; callers map variants to Docker's HTTP statuses
//! (most are 400 "invalid parameter"; `Io` is a 500).
//!
//! This module must never hold logic: it only names failures.

use std::io;

/// Everything that can go wrong while reading or writing image formats.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// A digest string is malformed.
    #[error("invalid digest {input:?}: {reason}; a digest looks like sha256:<64 lowercase hex>")]
    InvalidDigest { input: String, reason: String },

    /// A digest names an algorithm berth does not implement.
    #[error(
        "unsupported digest algorithm {algorithm:?} in {input:?}: berth handles sha256 digests only"
    )]
    UnsupportedDigestAlgorithm { input: String, algorithm: String },

    /// Content does not hash to the digest it was given under.
    #[error(
        "content of {what} has digest {actual}, expected {expected}: the data is corrupt or was tampered with"
    )]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    /// Content is not as long as its descriptor says.
    #[error("{what} is {actual} bytes, expected {expected}: the data is truncated or corrupt")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },

    /// An image reference (name, tag, digest) does not parse. The message starts with
    /// Docker's own wording so scripts matching on it keep working.
    #[error("{message}")]
    InvalidReference { input: String, message: String },

    /// A manifest or index is not valid JSON of a known schema.
    #[error("invalid manifest {what}: {reason}")]
    InvalidManifest { what: String, reason: String },

    /// A manifest of a kind berth does not handle (schema 1, artifacts, ...).
    #[error("unsupported manifest {what}: {reason}")]
    UnsupportedManifest { what: String, reason: String },

    /// An image configuration is not valid.
    #[error("invalid image config {what}: {reason}")]
    InvalidConfig { what: String, reason: String },

    /// No manifest in an index fits the wanted platform.
    #[error(
        "no matching manifest for {wanted} in the manifest list entries (available: {available}); pass --platform to choose one"
    )]
    NoMatchingPlatform { wanted: String, available: String },

    /// A platform string such as `linux/arm64/v8` does not parse.
    #[error("invalid platform {input:?}: {reason}; expected os[/arch[/variant]], e.g. linux/amd64")]
    InvalidPlatform { input: String, reason: String },

    /// A `--change` instruction Docker does not accept for commit/import.
    #[error(
        "dockerfile instruction {instruction} is not allowed in --change {change:?}: use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL"
    )]
    ChangeNotAllowed { instruction: String, change: String },

    /// A `--change` instruction that is allowed but malformed.
    #[error("invalid --change {change:?}: {reason}")]
    InvalidChange { change: String, reason: String },

    /// An image archive (`docker save` / `docker load` tar) is malformed or hostile.
    #[error("invalid image archive: {reason}")]
    InvalidArchive { reason: String },

    /// An archive exceeds a configured limit.
    #[error("image archive exceeds a limit: {reason}")]
    ArchiveLimit { reason: String },

    /// A blob a manifest needs is not in the archive or the store.
    #[error(
        "missing blob {digest} ({what}): the archive or store is incomplete; save or pull the image again"
    )]
    MissingBlob { digest: String, what: String },

    /// An image cannot be exported as asked.
    #[error("cannot export image: {reason}")]
    Export { reason: String },

    /// Reading or writing the underlying stream (or a sink's/source's storage) failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),

    /// JSON that berth itself produced could not be encoded (a bug, never input).
    #[error("JSON encoding failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// Shorthand used across the crate.
pub type Result<T, E = OciError> = std::result::Result<T, E>;

impl OciError {
    pub(crate) fn archive(reason: impl Into<String>) -> Self {
        Self::InvalidArchive {
            reason: reason.into(),
        }
    }

    pub(crate) fn limit(reason: impl Into<String>) -> Self {
        Self::ArchiveLimit {
            reason: reason.into(),
        }
    }
}
