//! An in-memory blob store that is both a [`BlobSink`] and a [`BlobSource`]: for tests,
//! and for building small images (the busybox test image) without a store.
//!
//! It must never be used for real image data of unknown size: everything is in RAM.

use std::collections::BTreeMap;
use std::io::Read;

use super::{BlobSink, BlobSource};
use crate::digest::{Digest, DigestReader};
use crate::error::{OciError, Result};

/// Blobs by digest, plus how many times each was put (to check dedup).
#[derive(Clone, Debug, Default)]
pub struct MemoryBlobs {
    blobs: BTreeMap<Digest, Vec<u8>>,
    puts: BTreeMap<Digest, usize>,
}

impl MemoryBlobs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns their digest.
    pub fn insert(&mut self, bytes: Vec<u8>) -> Digest {
        let digest = Digest::of(&bytes);
        self.blobs.insert(digest.clone(), bytes);
        digest
    }

    pub fn get(&self, digest: &Digest) -> Option<&[u8]> {
        self.blobs.get(digest).map(Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.blobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    /// How many times `put_blob` stored this digest.
    pub fn put_count(&self, digest: &Digest) -> usize {
        self.puts.get(digest).copied().unwrap_or(0)
    }

    pub fn digests(&self) -> impl Iterator<Item = &Digest> {
        self.blobs.keys()
    }
}

impl BlobSink for MemoryBlobs {
    fn put_blob(
        &mut self,
        expected: Option<&Digest>,
        size: u64,
        content: &mut dyn Read,
    ) -> Result<Digest> {
        let mut reader = DigestReader::new(content);
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes)?;
        let (_, digest, read) = reader.finish();
        if read != size {
            return Err(OciError::SizeMismatch {
                what: format!("blob {digest}"),
                expected: size,
                actual: read,
            });
        }
        if let Some(expected) = expected.filter(|e| **e != digest) {
            return Err(OciError::DigestMismatch {
                what: "a blob".into(),
                expected: expected.to_string(),
                actual: digest.to_string(),
            });
        }
        *self.puts.entry(digest.clone()).or_default() += 1;
        self.blobs.insert(digest.clone(), bytes);
        Ok(digest)
    }
}

impl BlobSource for MemoryBlobs {
    fn open(&mut self, digest: &Digest) -> Result<(u64, Box<dyn Read + '_>)> {
        let bytes = self
            .blobs
            .get(digest)
            .ok_or_else(|| OciError::MissingBlob {
                digest: digest.to_string(),
                what: "not in memory".into(),
            })?;
        Ok((bytes.len() as u64, Box::new(bytes.as_slice())))
    }
}
