//! Layer compression: sniffing it from magic bytes on the way in, and a deterministic
//! encoder on the way out.
//!
//! Detection looks only at the first bytes and never trusts a media type. The encoders
//! must stay deterministic (fixed level, no timestamps, no file names, single thread):
//! the same tar must always compress to the same bytes, or digests of rebuilt layers
//! would differ. Nothing here knows about tar.

use std::fmt;
use std::io::{self, Cursor, Read, Write};

use crate::error::{LayerError, Result};

/// How a layer stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// A plain tar archive.
    #[default]
    None,
    /// gzip (RFC 1952), possibly several members back to back.
    Gzip,
    /// Zstandard, possibly several frames back to back.
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "tar",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const BZIP2_MAGIC: &[u8] = b"BZh";
const SNIFF_LEN: usize = 6;

/// gzip level used by [`Encoder`]: flate2's default, a fair size/speed trade-off.
const GZIP_LEVEL: u32 = 6;
/// zstd level used by [`Encoder`]: zstd's default.
const ZSTD_LEVEL: i32 = 3;

/// Reads the first bytes of `input`, names its compression and returns a reader of the
/// *decompressed* stream (the sniffed bytes are put back in front).
pub fn open_decoder<'r, R: Read + 'r>(mut input: R) -> Result<(Compression, Box<dyn Read + 'r>)> {
    let mut head = [0u8; SNIFF_LEN];
    let mut filled = 0;
    while filled < SNIFF_LEN {
        match input.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(LayerError::io("read layer", "<input>", e)),
        }
    }
    let head = &head[..filled];
    let compression = sniff(head)?;
    let rejoined = Cursor::new(head.to_vec()).chain(input);
    let reader: Box<dyn Read + 'r> = match compression {
        Compression::None => Box::new(rejoined),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(rejoined)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(rejoined).map_err(
            |source| LayerError::Decompress {
                compression,
                source,
            },
        )?),
    };
    Ok((compression, reader))
}

/// Names the compression from the first bytes of a stream.
pub(crate) fn sniff(head: &[u8]) -> Result<Compression> {
    if head.starts_with(GZIP_MAGIC) {
        Ok(Compression::Gzip)
    } else if head.starts_with(ZSTD_MAGIC) {
        Ok(Compression::Zstd)
    } else if head.starts_with(XZ_MAGIC) {
        Err(LayerError::UnsupportedCompression("xz"))
    } else if head.starts_with(BZIP2_MAGIC) {
        Err(LayerError::UnsupportedCompression("bzip2"))
    } else {
        Ok(Compression::None)
    }
}

/// A deterministic compressor in front of `W`.
pub(crate) enum Encoder<W: Write> {
    Plain(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> fmt::Debug for Encoder<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoder::Plain(_) => "Encoder::Plain",
            Encoder::Gzip(_) => "Encoder::Gzip",
            Encoder::Zstd(_) => "Encoder::Zstd",
        })
    }
}

impl<W: Write> Encoder<W> {
    pub(crate) fn new(compression: Compression, out: W) -> io::Result<Self> {
        Ok(match compression {
            Compression::None => Encoder::Plain(out),
            // No mtime, no file name, "unknown" OS: the header is the same everywhere.
            Compression::Gzip => Encoder::Gzip(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(255)
                    .write(out, flate2::Compression::new(GZIP_LEVEL)),
            ),
            Compression::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
                encoder.include_checksum(true)?;
                Encoder::Zstd(encoder)
            }
        })
    }

    /// Writes the compressed stream's trailer and returns the sink.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Plain(out) => Ok(out),
            Encoder::Gzip(encoder) => encoder.finish(),
            Encoder::Zstd(encoder) => encoder.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(out) => out.write(buf),
            Encoder::Gzip(encoder) => encoder.write(buf),
            Encoder::Zstd(encoder) => encoder.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(out) => out.flush(),
            Encoder::Gzip(encoder) => encoder.flush(),
            Encoder::Zstd(encoder) => encoder.flush(),
        }
    }
}

#[cfg(test)]
mod tests;
