//! A strict, bounded, forward-only tar reader for image archives.
//!
//! The `tar` crate reads GNU long names and PAX headers into memory without a bound,
//! which a hostile archive can use to exhaust memory; this reader caps every header
//! and extension record. It understands ustar, GNU (`L`/`K` long names, base-256
//! sizes) and PAX (`path`, `linkpath`, `size`) — what Docker (Go's archive/tar),
//! skopeo and GNU tar write. It must never seek or buffer entry data: data is
//! streamed to the caller.

use std::io::{self, Read};

use crate::error::{OciError, Result};

const BLOCK: u64 = 512;
/// The largest GNU long name or PAX extension record set accepted.
const MAX_EXTENSION_BYTES: u64 = 1024 * 1024;

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    File,
    Directory,
    Symlink,
    HardLink,
    Other(u8),
}

/// One entry's header, extensions applied.
#[derive(Clone, Debug)]
pub(crate) struct EntryHeader {
    pub path: Vec<u8>,
    pub link: Vec<u8>,
    pub kind: EntryKind,
    pub size: u64,
}

pub(crate) struct TarStream<R> {
    inner: R,
    /// Data bytes left in the current entry, then its padding.
    remaining: u64,
    padding: u64,
    finished: bool,
}

impl<R: Read> TarStream<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            remaining: 0,
            padding: 0,
            finished: false,
        }
    }

    /// The next entry, skipping what the caller left unread of the previous one.
    /// `None` at the end-of-archive marker (or a clean end of input between entries).
    pub fn next_entry(&mut self) -> Result<Option<EntryHeader>> {
        if self.finished {
            return Ok(None);
        }
        self.skip_rest()?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax_size: Option<u64> = None;
        loop {
            let Some(block) = self.read_header_block()? else {
                self.finished = true;
                if long_name.is_some() || long_link.is_some() || pax_size.is_some() {
                    return Err(truncated(
                        "an extension header is not followed by its entry",
                    ));
                }
                return Ok(None);
            };
            let typeflag = block[156];
            let size = parse_size(&block[124..136])?;
            match typeflag {
                b'L' | b'K' | b'x' | b'g' => {
                    if size > MAX_EXTENSION_BYTES {
                        return Err(OciError::limit(format!(
                            "a tar extension header of {size} bytes (the limit is {MAX_EXTENSION_BYTES})"
                        )));
                    }
                    self.start_entry(size);
                    let mut data = Vec::with_capacity(size as usize);
                    self.entry_reader().read_to_end(&mut data).map_err(map_io)?;
                    self.skip_rest()?;
                    match typeflag {
                        b'L' => long_name = Some(trim_nul(&data).to_vec()),
                        b'K' => long_link = Some(trim_nul(&data).to_vec()),
                        b'x' => {
                            for (key, value) in parse_pax(&data)? {
                                match key.as_slice() {
                                    b"path" => long_name = Some(value),
                                    b"linkpath" => long_link = Some(value),
                                    b"size" => pax_size = Some(parse_decimal(&value)?),
                                    _ => {}
                                }
                            }
                        }
                        _ => {} // global PAX headers carry nothing an image needs
                    }
                }
                _ => {
                    let size = pax_size.unwrap_or(size);
                    let kind = match typeflag {
                        b'0' | 0 | b'7' => EntryKind::File,
                        b'5' => EntryKind::Directory,
                        b'2' => EntryKind::Symlink,
                        b'1' => EntryKind::HardLink,
                        other => EntryKind::Other(other),
                    };
                    let path = long_name.unwrap_or_else(|| header_path(&block));
                    let link = long_link.unwrap_or_else(|| trim_nul(&block[157..257]).to_vec());
                    // Links and directories carry no data; one claiming some is how
                    // parsers are made to disagree about where the next entry starts.
                    if matches!(
                        kind,
                        EntryKind::Directory | EntryKind::Symlink | EntryKind::HardLink
                    ) && size != 0
                    {
                        return Err(OciError::archive(format!(
                            "the {kind:?} entry {:?} claims {size} bytes of data",
                            String::from_utf8_lossy(&path)
                        )));
                    }
                    self.start_entry(size);
                    return Ok(Some(EntryHeader {
                        path,
                        link,
                        kind,
                        size,
                    }));
                }
            }
        }
    }

    /// Reads the current entry's data (it reports a truncated archive as an error).
    pub fn entry_reader(&mut self) -> EntryReader<'_, R> {
        EntryReader { stream: self }
    }

    fn start_entry(&mut self, size: u64) {
        self.remaining = size;
        self.padding = (BLOCK - size % BLOCK) % BLOCK;
    }

    fn skip_rest(&mut self) -> Result<()> {
        let to_skip = self.remaining + self.padding;
        if to_skip > 0 {
            let copied =
                io::copy(&mut (&mut self.inner).take(to_skip), &mut io::sink()).map_err(map_io)?;
            if copied != to_skip {
                return Err(truncated("an entry ends before its size"));
            }
        }
        self.remaining = 0;
        self.padding = 0;
        Ok(())
    }

    fn read_header_block(&mut self) -> Result<Option<[u8; 512]>> {
        let mut block = [0u8; 512];
        let mut filled = 0;
        while filled < block.len() {
            match self.inner.read(&mut block[filled..]) {
                Ok(0) if filled == 0 => return Ok(None),
                Ok(0) => return Err(truncated("the archive ends inside a header")),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        if block.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        verify_checksum(&block)?;
        Ok(Some(block))
    }
}

/// Reads one entry's data; ending early is an `UnexpectedEof` error.
pub(crate) struct EntryReader<'a, R> {
    stream: &'a mut TarStream<R>,
}

impl<R: Read> Read for EntryReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stream.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.stream.remaining).unwrap_or(usize::MAX));
        let n = self.stream.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the image archive is truncated: an entry ends before its size",
            ));
        }
        self.stream.remaining -= n as u64;
        Ok(n)
    }
}

fn header_path(block: &[u8; 512]) -> Vec<u8> {
    let name = trim_nul(&block[0..100]);
    // ustar (not old GNU) splits long names into prefix + name.
    if &block[257..263] == b"ustar\0" {
        let prefix = trim_nul(&block[345..500]);
        if !prefix.is_empty() {
            let mut path = prefix.to_vec();
            path.push(b'/');
            path.extend_from_slice(name);
            return path;
        }
    }
    name.to_vec()
}

fn verify_checksum(block: &[u8; 512]) -> Result<()> {
    let stored = parse_octal(&block[148..156]).map_err(|_| {
        OciError::archive("a tar header has a malformed checksum: not a tar archive?")
    })?;
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(*b)
            }
        })
        .sum();
    if sum != stored {
        return Err(OciError::archive(
            "a tar header checksum does not match: the archive is corrupt or not a tar file",
        ));
    }
    Ok(())
}

fn parse_size(field: &[u8]) -> Result<u64> {
    if field[0] & 0x80 != 0 {
        // GNU base-256: big-endian, high bit of the first byte set; negatives refused.
        if field[0] & 0x40 != 0 {
            return Err(OciError::archive("a tar entry has a negative size"));
        }
        let mut value: u64 = u64::from(field[0] & 0x3f);
        for b in &field[1..] {
            value = value
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*b)))
                .ok_or_else(|| OciError::archive("a tar entry size overflows"))?;
        }
        return Ok(value);
    }
    parse_octal(field).map_err(|_| OciError::archive("a tar entry has a malformed size"))
}

fn parse_octal(field: &[u8]) -> std::result::Result<u64, ()> {
    let text = trim_nul(field);
    let text = std::str::from_utf8(text).map_err(|_| ())?.trim_matches(' ');
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| ())
}

fn parse_decimal(value: &[u8]) -> Result<u64> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| OciError::archive("a PAX size record is not a number"))
}

/// PAX records: `"<len> <key>=<value>\n"`, `<len>` counting the whole record.
fn parse_pax(mut data: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let bad = || OciError::archive("a PAX extension header is malformed");
    let mut out = Vec::new();
    while !data.is_empty() {
        let space = data.iter().position(|b| *b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &data[space + 1..len - 1];
        let eq = record.iter().position(|b| *b == b'=').ok_or_else(bad)?;
        out.push((record[..eq].to_vec(), record[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

fn trim_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

fn truncated(what: &str) -> OciError {
    OciError::archive(format!("the archive is truncated: {what}"))
}

/// Turns the entry reader's end-of-data error into the archive error.
pub(crate) fn map_io(e: io::Error) -> OciError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        truncated("an entry ends before its size")
    } else {
        OciError::Io(e)
    }
}
