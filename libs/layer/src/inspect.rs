//! Reading a layer through without unpacking it: what `docker import` needs to refuse
//! bytes that are not a tar archive before they become an image, and to learn the
//! layer's diff ID. The same reader and limits as [`crate::apply`], so anything accepted
//! here is a layer `apply` can read; it never touches the filesystem.

use std::io::{BufReader, Read};

use crate::archive::reader::TarReader;
use crate::compression::{Compression, open_decoder};
use crate::digest::{DigestingReader, Sha256Digest};
use crate::error::Result;
use crate::limits::Limits;

/// What reading a layer through found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSummary {
    /// Compression detected on the input.
    pub compression: Compression,
    /// sha256 of the uncompressed tar stream: the layer's diff ID.
    pub diff_id: Sha256Digest,
    /// Archive members (extension headers not counted).
    pub entries: u64,
    /// Bytes of the uncompressed tar stream.
    pub tar_bytes: u64,
}

/// Reads the layer from `reader` (plain tar, gzip or zstd) to its end-of-archive
/// marker, checking every header against `limits`; fails on anything that is not a
/// complete tar archive.
pub fn inspect<R: Read>(reader: R, limits: &Limits) -> Result<LayerSummary> {
    let (compression, decoded) = open_decoder(reader)?;
    let digesting = DigestingReader::new(decoded, limits.max_total_bytes);
    let buffered = BufReader::with_capacity(64 * 1024, digesting);
    let mut tar = TarReader::new(buffered, limits.clone(), compression);
    let mut entries = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while tar.next_member()?.is_some() {
        entries += 1;
        while tar.read_content(&mut buf)? > 0 {}
    }
    let (diff_id, tar_bytes) = tar.finish()?.into_inner().finish();
    Ok(LayerSummary {
        compression,
        diff_id,
        entries,
        tar_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_are_not_a_layer() {
        let mut noise = vec![0u8; 4096];
        let mut x: u32 = 0x1234_5678;
        for b in noise.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        assert!(inspect(&noise[..], &Limits::default()).is_err());
        assert!(inspect(&b""[..], &Limits::default()).is_err());
    }

    #[test]
    fn an_empty_archive_is_a_layer() {
        let end = vec![0u8; 1024];
        let s = inspect(&end[..], &Limits::default()).unwrap();
        assert_eq!((s.entries, s.tar_bytes), (0, 1024));
        assert_eq!(s.diff_id, Sha256Digest::of(&end));
    }
}
