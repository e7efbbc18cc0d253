//! Image archives: what `docker save` writes and `docker load` reads.
//!
//! berth writes the layout Docker 25+ writes: one tar that is both an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/...`) and a docker-archive
//! (`manifest.json`, `repositories`) over the same blobs. It reads that, plain OCI
//! layouts (skopeo `oci-archive:`), and legacy docker-archives (`<id>/layer.tar`,
//! `<id>.json`).
//!
//! Reading and writing stream: blobs go straight between the tar and a [`BlobSink`] /
//! [`BlobSource`]; only small JSON documents are held in memory, under
//! [`ArchiveLimits`]. This module must never touch a filesystem itself, and must
//! never trust an archive: every path, size and digest is checked.

mod legacy;
mod memory;
mod paths;
pub mod read;
mod resolve;
pub mod write;

use std::io::Read;

use crate::digest::Digest;
use crate::error::Result;

pub use legacy::legacy_manifest;
pub use memory::MemoryBlobs;
pub use read::{ArchiveContents, ArchiveImage, ArchiveIndex, ArchiveLimits, read_archive};
pub use write::{ExportImage, WriteOptions, write_archive, write_archive_with};

/// Where [`read_archive`] puts the blobs it finds (the image store, or memory).
pub trait BlobSink {
    /// Stores one blob of `size` bytes read from `content`, and returns its digest.
    ///
    /// `expected` is the digest the archive names the blob by (`blobs/sha256/<hex>`), or
    /// `None` for legacy files whose digest is only known after reading them. The
    /// sink must verify the digest before making the blob visible; the reader checks
    /// it too and fails the load on a mismatch. A sink that already has the blob may
    /// return without reading; the reader drains the rest.
    fn put_blob(
        &mut self,
        expected: Option<&Digest>,
        size: u64,
        content: &mut dyn Read,
    ) -> Result<Digest>;
}

/// Where [`write_archive`] reads blobs from.
pub trait BlobSource {
    /// Opens a blob: its size and a reader of exactly that many bytes.
    fn open(&mut self, digest: &Digest) -> Result<(u64, Box<dyn Read + '_>)>;
}
