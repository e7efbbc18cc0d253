//! berth-oci: the image formats berth speaks, as a pure library.
//!
//! - [`digest`]: `sha256:` digests and streaming hashers.
//! - [`media_type`]: OCI and Docker media types.
//! - [`reference`]: image names with Docker's normalisation (`busybox` is
//!   `docker.io/library/busybox:latest`), and ID-versus-name lookup rules.
//! - [`manifest`], [`platform`]: manifests and indexes (OCI and Docker schema 2) and
//!   picking a platform's manifest.
//! - [`config`]: image configs and `--change` instructions.
//! - [`archive`]: `docker save` / `docker load` archives, streamed.
//!
//! Nothing here does I/O beyond the `Read`/`Write` it is handed, spawns, or blocks on
//! anything else; the services decide where bytes live.

pub mod archive;
pub mod config;
pub mod digest;
mod error;
pub mod manifest;
pub mod media_type;
pub mod platform;
pub mod reference;

pub use archive::{
    ArchiveContents, ArchiveImage, ArchiveIndex, ArchiveLimits, BlobSink, BlobSource, ExportImage,
    MemoryBlobs, WriteOptions, legacy_manifest, read_archive, write_archive, write_archive_with,
};
pub use config::changes::{Change, apply_changes, apply_changes_to_image_config, parse_changes};
pub use config::{ContainerConfig, History, ImageConfiguration};
pub use digest::{Digest, DigestReader, DigestWriter};
pub use error::{OciError, Result};
pub use manifest::{Descriptor, ImageIndex, ImageManifest, Manifest, MediaType};
pub use platform::{Platform, select_manifest};
pub use reference::{ImageLookup, Reference, classify_image_ref};

/// oci-spec's image types, for what the re-exports above do not cover (builders).
pub use oci_spec::image as spec;
