//! Streaming tar reader with limits.
//!
//! Reads one member header (folding in PAX and GNU long-name headers), then lets the
//! caller read exactly that member's content, then moves on. It never seeks, never
//! allocates more than a limit allows, and never returns a member whose header it
//! could not fully validate. It knows nothing about paths' meaning or the filesystem.

use std::io::{self, Read};

use super::header::HeaderView;
use super::pax::{self, PaxError, PaxRecords};
use super::{BLOCK, Member, MemberKind};
use crate::compression::Compression;
use crate::digest::is_budget_exceeded;
use crate::error::{LayerError, Result, show};
use crate::limits::{Limit, Limits};
use crate::sys::Time;

/// Reads members from an uncompressed tar stream.
#[derive(Debug)]
pub struct TarReader<R> {
    src: R,
    limits: Limits,
    /// Used to label read errors: a failing gzip/zstd decoder is a corrupt layer.
    compression: Compression,
    /// Offset in the stream of the next byte `src` yields.
    pos: u64,
    /// Content bytes of the current member not yet read, then its padding.
    remaining: u64,
    padding: u64,
    /// Path of the current member, for messages.
    current: Vec<u8>,
    members: u64,
    ended: bool,
}

enum Block {
    Full,
    Eof,
}

/// Extended headers seen before a member.
#[derive(Default)]
struct Pending {
    offset: Option<u64>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<PaxRecords>,
}

impl<R: Read> TarReader<R> {
    pub fn new(src: R, limits: Limits, compression: Compression) -> Self {
        TarReader {
            src,
            limits,
            compression,
            pos: 0,
            remaining: 0,
            padding: 0,
            current: Vec::new(),
            members: 0,
            ended: false,
        }
    }

    /// The next member, or `None` at the end-of-archive marker. Unread content of the
    /// previous member is skipped first.
    pub fn next_member(&mut self) -> Result<Option<Member>> {
        if self.ended {
            return Ok(None);
        }
        self.skip_rest()?;
        self.current.clear();
        let mut pending = Pending::default();
        let mut block = [0u8; BLOCK];
        loop {
            let offset = self.pos;
            if let Block::Eof = self.read_block(&mut block)? {
                return Err(LayerError::Truncated {
                    detail: format!(
                        "the archive stops at byte {offset} without an end-of-archive marker"
                    ),
                });
            }
            if block.iter().all(|&b| b == 0) {
                if pending.offset.is_some() {
                    return Err(corrupt(offset, "extended header describes no member"));
                }
                self.ended = true;
                return Ok(None);
            }
            let header = HeaderView(&block);
            if !header.checksum_ok() {
                return Err(corrupt(offset, "header checksum mismatch"));
            }
            let size = header.size().map_err(|e| corrupt(offset, e))?;
            pending.offset.get_or_insert(offset);
            match header.typeflag() {
                b'x' => {
                    if pending.pax.is_some() {
                        return Err(corrupt(offset, "two PAX headers for one member"));
                    }
                    self.check(Limit::PaxHeaderSize, size, self.limits.max_pax_header_size)?;
                    let data = self.read_meta(size)?;
                    let records =
                        pax::parse(&data, self.limits.max_xattr_size).map_err(|e| match e {
                            PaxError::Malformed(why) => corrupt(offset, why),
                            PaxError::XattrTooLarge(len) => LayerError::LimitExceeded {
                                limit: Limit::XattrSize,
                                path: None,
                                value: len as u64,
                                max: self.limits.max_xattr_size as u64,
                            },
                        })?;
                    pending.pax = Some(records);
                }
                // Global PAX headers carry nothing berth honours (a comment from `git
                // archive`, usually); read and drop them.
                b'g' => {
                    self.check(Limit::PaxHeaderSize, size, self.limits.max_pax_header_size)?;
                    self.read_meta(size)?;
                }
                b'L' | b'K' => {
                    let max = self.limits.max_path_len as u64 + 1;
                    self.check(Limit::PathLength, size, max)?;
                    let mut name = self.read_meta(size)?;
                    while name.last() == Some(&0) {
                        name.pop();
                    }
                    let slot = if header.typeflag() == b'L' {
                        &mut pending.long_name
                    } else {
                        &mut pending.long_link
                    };
                    if slot.replace(name).is_some() {
                        return Err(corrupt(offset, "two GNU long-name headers for one member"));
                    }
                }
                // A GNU volume label names the tape, not a file.
                b'V' if pending.offset == Some(offset) => {
                    self.check(Limit::FileSize, size, self.limits.max_file_size)?;
                    self.skip(size.saturating_add(pad(size)))?;
                    pending.offset = None;
                }
                _ => return self.member(&header, size, pending).map(Some),
            }
        }
    }

    fn member(&mut self, header: &HeaderView<'_>, size: u64, pending: Pending) -> Result<Member> {
        let offset = pending.offset.unwrap_or(self.pos - BLOCK as u64);
        let pax = pending.pax.unwrap_or_default();
        let path = pax
            .path
            .or(pending.long_name)
            .unwrap_or_else(|| header.path());
        self.current = path.clone();
        let link = pax
            .linkpath
            .or(pending.long_link)
            .unwrap_or_else(|| header.link());

        let bad = |why: &'static str| corrupt(offset, why);
        let kind = match header.typeflag() {
            b'0' | 0 | b'7' if path.ends_with(b"/") => MemberKind::Dir,
            b'0' | 0 | b'7' => MemberKind::File,
            b'1' => MemberKind::Hardlink,
            b'2' => MemberKind::Symlink,
            b'3' => MemberKind::CharDevice,
            b'4' => MemberKind::BlockDevice,
            b'5' => MemberKind::Dir,
            b'6' => MemberKind::Fifo,
            other => {
                let kind = match other {
                    b'S' => "S (GNU sparse file)".to_owned(),
                    b'M' => "M (multi-volume continuation)".to_owned(),
                    b'D' => "D (GNU dump directory)".to_owned(),
                    c if c.is_ascii_graphic() => format!("{}", c as char),
                    c => format!("0x{c:02x}"),
                };
                return Err(LayerError::UnsupportedEntry {
                    path: show(&path),
                    kind,
                });
            }
        };
        if pax.sparse {
            return Err(LayerError::UnsupportedEntry {
                path: show(&path),
                kind: "PAX sparse file".to_owned(),
            });
        }

        self.members += 1;
        self.check(Limit::Entries, self.members, self.limits.max_entries)?;
        let max_path = self.limits.max_path_len as u64;
        self.check(Limit::PathLength, path.len() as u64, max_path)?;
        self.check(Limit::PathLength, link.len() as u64, max_path)?;
        let size = pax.size.unwrap_or(size);
        self.check(Limit::FileSize, size, self.limits.max_file_size)?;
        if size != 0 && kind != MemberKind::File {
            // GNU tar skips such a member's data; Go's archive/tar (Docker's) reads it as
            // the next header. Either choice lets another reader see other members.
            return Err(corrupt(
                offset,
                &format!(
                    "member {} is not a regular file but claims {size} bytes of data",
                    show(&path)
                ),
            ));
        }

        let (dev_major, dev_minor) = match kind {
            MemberKind::CharDevice | MemberKind::BlockDevice => header.dev().map_err(bad)?,
            _ => (0, 0),
        };
        let mtime = match pax.mtime {
            Some(t) => t,
            None => Time {
                sec: header.mtime().map_err(bad)?,
                nsec: 0,
            },
        };
        let member = Member {
            kind,
            link,
            mode: (header.mode().map_err(bad)? & 0o7777) as u32,
            uid: pax.uid.map_or_else(|| header.uid(), Ok).map_err(bad)?,
            gid: pax.gid.map_or_else(|| header.gid(), Ok).map_err(bad)?,
            mtime,
            size,
            dev_major,
            dev_minor,
            xattrs: pax.xattrs,
            offset,
            path,
        };
        self.remaining = size;
        self.padding = pad(size);
        Ok(member)
    }

    /// Reads content of the current member; `Ok(0)` once it is all read.
    pub fn read_content(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.read_some(&mut buf[..want])?;
        if n == 0 {
            return Err(LayerError::Truncated {
                detail: format!(
                    "the archive stops inside the content of {:?} ({} bytes missing)",
                    show(&self.current),
                    self.remaining
                ),
            });
        }
        self.remaining -= n as u64;
        Ok(n)
    }

    /// Reads to the end of the stream after the end-of-archive marker (the rest of the
    /// marker and record padding are part of the digest) and returns the source.
    pub fn finish(mut self) -> Result<R> {
        debug_assert!(self.ended);
        let mut scratch = [0u8; 8192];
        while self.read_some(&mut scratch)? != 0 {}
        Ok(self.src)
    }

    fn skip_rest(&mut self) -> Result<()> {
        let rest = self.remaining.saturating_add(self.padding);
        self.remaining = 0;
        self.padding = 0;
        self.skip(rest)
    }

    fn skip(&mut self, mut amount: u64) -> Result<()> {
        let mut scratch = [0u8; 8192];
        while amount > 0 {
            let want = scratch
                .len()
                .min(usize::try_from(amount).unwrap_or(usize::MAX));
            let n = self.read_some(&mut scratch[..want])?;
            if n == 0 {
                return Err(LayerError::Truncated {
                    detail: format!("the archive stops inside {:?}", show(&self.current)),
                });
            }
            amount -= n as u64;
        }
        Ok(())
    }

    /// Reads a whole extended-header body (already checked against its limit).
    fn read_meta(&mut self, size: u64) -> Result<Vec<u8>> {
        let len = usize::try_from(size).map_err(|_| corrupt(self.pos, "header too large"))?;
        let mut data = vec![0u8; len];
        let mut filled = 0;
        while filled < len {
            let n = self.read_some(&mut data[filled..])?;
            if n == 0 {
                return Err(LayerError::Truncated {
                    detail: "the archive stops inside an extended header".to_owned(),
                });
            }
            filled += n;
        }
        self.skip(pad(size))?;
        Ok(data)
    }

    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> Result<Block> {
        let mut filled = 0;
        while filled < BLOCK {
            let n = self.read_some(&mut block[filled..])?;
            if n == 0 {
                if filled == 0 {
                    return Ok(Block::Eof);
                }
                return Err(LayerError::Truncated {
                    detail: format!("the archive stops inside the header at byte {}", self.pos),
                });
            }
            filled += n;
        }
        Ok(Block::Full)
    }

    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.src.read(buf) {
                Ok(n) => {
                    self.pos += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.read_error(e)),
            }
        }
    }

    fn read_error(&self, source: io::Error) -> LayerError {
        let path = (!self.current.is_empty()).then(|| show(&self.current));
        if is_budget_exceeded(&source) {
            LayerError::LimitExceeded {
                limit: Limit::TotalBytes,
                path,
                value: self.limits.max_total_bytes.saturating_add(1),
                max: self.limits.max_total_bytes,
            }
        } else if self.compression == Compression::None {
            LayerError::io("read layer", path.unwrap_or_default(), source)
        } else {
            LayerError::Decompress {
                compression: self.compression,
                source,
            }
        }
    }

    fn check(&self, limit: Limit, value: u64, max: u64) -> Result<()> {
        if value > max {
            return Err(LayerError::LimitExceeded {
                limit,
                path: (!self.current.is_empty()).then(|| show(&self.current)),
                value,
                max,
            });
        }
        Ok(())
    }
}

/// Zero bytes after `size` bytes of content up to the next block.
fn pad(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

fn corrupt(offset: u64, detail: &str) -> LayerError {
    LayerError::CorruptTar {
        offset,
        detail: detail.to_owned(),
    }
}
