//! berth's layer codec: apply an image layer (a tar, plain, gzip or zstd) into a
//! directory safely, and diff a directory into a layer.
//!
//! - [`apply`] / [`apply_to_new_dir`]: unpack a layer, honouring OCI whiteouts (delete
//!   in place) or writing overlayfs whiteouts ([`WhiteoutFormat::Overlay`]), and return
//!   the layer's diff ID. A hostile layer cannot write outside the target: paths with
//!   `..` or a leading `/` are refused, no symlink is ever followed while resolving a
//!   member's path (`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`), hard links must
//!   point at a regular file inside the target, and everything the archive can make us
//!   allocate or write is bounded by [`Limits`].
//! - [`diff`]: write a deterministic layer from a plain directory or an overlayfs upper
//!   directory, with its diff ID and compressed digest.
//!
//! Running as root is expected for ownership, devices and `trusted.*` xattrs; see
//! [`Ownership::CurrentUser`] for rootless unpacking. Everything here is blocking I/O:
//! async callers run it under `tokio::task::spawn_blocking`.

mod apply;
mod archive;
mod compression;
mod diff;
mod digest;
mod error;
mod inspect;
mod limits;
mod path;
mod sys;
pub mod tar;

pub use apply::{
    ApplyOptions, ApplyStats, IdMap, Ownership, WhiteoutFormat, apply, apply_to_new_dir,
};
pub use compression::{Compression, open_decoder};
pub use diff::{DiffOptions, DiffSource, DiffStats, diff};
pub use digest::Sha256Digest;
pub use error::{LayerError, Result};
pub use inspect::{LayerSummary, inspect};
pub use limits::{Limit, Limits};
pub use path::{OPAQUE_MARKER, WHITEOUT_PREFIX};
