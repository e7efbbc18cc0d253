//! Content digests (`sha256:<64 lowercase hex>`), and `Read`/`Write` adapters that
//! compute a digest and a byte count while data streams through them.
//!
//! A [`Digest`] is always valid once constructed, so code holding one never re-checks
//! it. This module must never accept another algorithm silently or re-encode content:
//! a digest is of the exact bytes given.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use crate::error::{OciError, Result};

const SHA256_HEX_LEN: usize = 64;
/// Docker's short image ID is the first 12 hex characters of the digest.
const SHORT_ID_LEN: usize = 12;

/// A sha256 content digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// The only algorithm berth implements.
    pub const ALGORITHM: &'static str = "sha256";

    /// Parses `sha256:<64 lowercase hex>`.
    pub fn parse(input: &str) -> Result<Self> {
        let Some((algorithm, hex)) = input.split_once(':') else {
            return Err(invalid(input, "missing the algorithm prefix \"sha256:\""));
        };
        if algorithm != Self::ALGORITHM {
            let valid_name = !algorithm.is_empty()
                && algorithm
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+._-".contains(c));
            if !valid_name {
                return Err(invalid(input, "malformed algorithm name"));
            }
            return Err(OciError::UnsupportedDigestAlgorithm {
                input: input.to_owned(),
                algorithm: algorithm.to_owned(),
            });
        }
        Self::from_hex(hex).map_err(|e| match e {
            OciError::InvalidDigest { reason, .. } => invalid(input, &reason),
            other => other,
        })
    }

    /// Builds a digest from its 64 lowercase hex characters (no prefix).
    pub fn from_hex(hex: &str) -> Result<Self> {
        if hex.len() != SHA256_HEX_LEN {
            return Err(invalid(
                hex,
                &format!(
                    "a sha256 digest has {SHA256_HEX_LEN} hex characters, this one has {}",
                    hex.len()
                ),
            ));
        }
        if let Some(bad) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            let reason = if bad.is_ascii_hexdigit() {
                "hex must be lowercase".to_owned()
            } else {
                format!("{bad:?} is not a hex character")
            };
            return Err(invalid(hex, &reason));
        }
        Ok(Self {
            hex: hex.to_owned(),
        })
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    fn from_hasher(hasher: Sha256) -> Self {
        Self {
            hex: hex::encode(hasher.finalize()),
        }
    }

    /// The 64 hex characters, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Docker's short ID: the first 12 hex characters.
    pub fn short_id(&self) -> &str {
        &self.hex[..SHORT_ID_LEN]
    }

    /// The same digest as oci-spec's type, for building descriptors.
    pub fn to_oci(&self) -> oci_spec::image::Digest {
        oci_spec::image::Digest::from_str(&self.to_string())
            .expect("a valid sha256 digest is a valid OCI digest")
    }

    /// Converts oci-spec's digest, rejecting algorithms other than sha256.
    pub fn from_oci(digest: &oci_spec::image::Digest) -> Result<Self> {
        Self::parse(digest.as_ref())
    }
}

fn invalid(input: &str, reason: &str) -> OciError {
    OciError::InvalidDigest {
        input: input.to_owned(),
        reason: reason.to_owned(),
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", Self::ALGORITHM, self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = OciError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl TryFrom<&oci_spec::image::Digest> for Digest {
    type Error = OciError;
    fn try_from(d: &oci_spec::image::Digest) -> Result<Self> {
        Self::from_oci(d)
    }
}

impl From<&Digest> for oci_spec::image::Digest {
    fn from(d: &Digest) -> Self {
        d.to_oci()
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A `Write` adapter that hashes and counts everything written through it.
pub struct DigestWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> DigestWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Returns the inner writer, the digest and the size of everything written.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, Digest::from_hasher(self.hasher), self.size)
    }
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W> fmt::Debug for DigestWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestWriter")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A `Read` adapter that hashes and counts everything read through it.
pub struct DigestReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> DigestReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Bytes read so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest of everything read so far (the reader can keep going).
    pub fn digest(&self) -> Digest {
        Digest::from_hasher(self.hasher.clone())
    }

    /// Returns the inner reader, the digest and the size of everything read.
    pub fn finish(self) -> (R, Digest, u64) {
        (self.inner, Digest::from_hasher(self.hasher), self.size)
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

impl<R> fmt::Debug for DigestReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestReader")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
