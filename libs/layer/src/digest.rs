//! sha256 digests computed while bytes stream through, and the byte budget that stops
//! decompression bombs.
//!
//! The readers and writers here sit directly on the uncompressed (or compressed) stream
//! so that every byte is hashed exactly once, in large chunks. They must never buffer,
//! reorder or drop bytes: a diff ID is only meaningful if it covers the stream exactly.

use std::fmt;
use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

/// A sha256 digest, shown as `sha256:<64 hex digits>` (the OCI form).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The 64 lowercase hex digits, without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The sha256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Marker error returned (inside an `io::Error`) when the byte budget runs out, so the
/// caller can tell a limit from a decoder failure.
#[derive(Debug)]
pub(crate) struct BudgetExceeded;

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("byte budget exceeded")
    }
}

impl std::error::Error for BudgetExceeded {}

pub(crate) fn is_budget_exceeded(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.is::<BudgetExceeded>())
}

/// Hashes and counts every byte read through it, and fails once more than `budget`
/// bytes have come through.
#[derive(Debug)]
pub(crate) struct DigestingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    budget: u64,
}

impl<R: Read> DigestingReader<R> {
    pub(crate) fn new(inner: R, budget: u64) -> Self {
        DigestingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
            budget,
        }
    }

    /// Bytes read so far.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    pub(crate) fn finish(self) -> (Sha256Digest, u64) {
        (Sha256Digest(self.hasher.finalize().into()), self.count)
    }
}

impl<R: Read> Read for DigestingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Never read more than one byte past the budget: the byte after the budget is
        // proof that the stream is too large, and nothing beyond it is decompressed.
        let room = self.budget.saturating_sub(self.count).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.count += n as u64;
        if self.count > self.budget {
            return Err(io::Error::other(BudgetExceeded));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Hashes and counts every byte written through it.
#[derive(Debug)]
pub(crate) struct DigestingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> DigestingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        DigestingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    pub(crate) fn finish(self) -> (W, Sha256Digest, u64) {
        (
            self.inner,
            Sha256Digest(self.hasher.finalize().into()),
            self.count,
        )
    }
}

impl<W: Write> Write for DigestingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests;
