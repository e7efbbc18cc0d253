//! Deterministic tar writer.
//!
//! Output depends only on the members given: ustar headers with empty user/group
//! names, a PAX header only when a field does not fit (long path or link, large id,
//! size or mtime, or xattrs), its records sorted by key, and its name derived from the
//! member's (`dir/PaxHeaders.0/base`, as Go's archive/tar does). It must never consult
//! the clock, the user database or anything else outside its arguments.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use super::header::{HeaderBuilder, ID_MAX, NAME_LEN, SIZE_MAX, octal_max};
use super::{BLOCK, MemberKind, pax};

/// What to write for one member.
#[derive(Debug, Clone)]
pub(crate) struct MemberHeader<'a> {
    pub(crate) kind: MemberKind,
    /// Canonical relative path (no trailing `/`; the writer adds it to directories).
    pub(crate) path: &'a [u8],
    pub(crate) link: &'a [u8],
    pub(crate) mode: u32,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    /// Whole seconds since the epoch.
    pub(crate) mtime: i64,
    pub(crate) size: u64,
    pub(crate) dev_major: u32,
    pub(crate) dev_minor: u32,
    /// Sorted by name by the caller or not: the writer sorts them.
    pub(crate) xattrs: &'a [(Vec<u8>, Vec<u8>)],
}

/// Writes members to `out`.
#[derive(Debug)]
pub(crate) struct TarWriter<W> {
    out: W,
}

impl<W: Write> TarWriter<W> {
    pub(crate) fn new(out: W) -> Self {
        TarWriter { out }
    }

    /// Writes the headers of one member. Exactly `member.size` content bytes must
    /// follow through [`TarWriter::copy_content`].
    pub(crate) fn write_header(&mut self, member: &MemberHeader<'_>) -> io::Result<()> {
        let mut path = member.path.to_vec();
        if member.kind == MemberKind::Dir {
            path.push(b'/');
        }
        let mut records: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        if path.len() > NAME_LEN {
            records.insert(b"path".to_vec(), path.clone());
        }
        if member.link.len() > NAME_LEN {
            records.insert(b"linkpath".to_vec(), member.link.to_vec());
        }
        if member.uid > ID_MAX {
            records.insert(b"uid".to_vec(), member.uid.to_string().into_bytes());
        }
        if member.gid > ID_MAX {
            records.insert(b"gid".to_vec(), member.gid.to_string().into_bytes());
        }
        if member.size > SIZE_MAX {
            records.insert(b"size".to_vec(), member.size.to_string().into_bytes());
        }
        let mtime_fits = u64::try_from(member.mtime).is_ok_and(|m| m <= octal_max(12));
        if !mtime_fits {
            records.insert(b"mtime".to_vec(), member.mtime.to_string().into_bytes());
        }
        for (name, value) in member.xattrs {
            records.insert(pax::xattr_key(name), value.clone());
        }
        let header_mtime = if mtime_fits { member.mtime as u64 } else { 0 };

        if !records.is_empty() {
            let mut body = Vec::new();
            for (key, value) in &records {
                pax::push_record(&mut body, key, value);
            }
            let mut pax_header = HeaderBuilder::new(b'x');
            pax_header.name(&pax_header_name(member.path));
            pax_header.mode(0o644);
            pax_header.uid(0);
            pax_header.gid(0);
            pax_header.size(body.len() as u64);
            pax_header.mtime(header_mtime);
            pax_header.dev(0, 0);
            self.out.write_all(&pax_header.seal())?;
            self.out.write_all(&body)?;
            self.pad(body.len() as u64)?;
        }

        let (major, minor) = (u64::from(member.dev_major), u64::from(member.dev_minor));
        if major > ID_MAX || minor > ID_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "device number too large for a tar header",
            ));
        }
        let mut header = HeaderBuilder::new(member.kind.typeflag());
        header.name(&path);
        header.link(member.link);
        header.mode(member.mode);
        header.uid(member.uid.min(ID_MAX));
        header.gid(member.gid.min(ID_MAX));
        header.size(if member.size > SIZE_MAX {
            0
        } else {
            member.size
        });
        header.mtime(header_mtime);
        header.dev(major, minor);
        self.out.write_all(&header.seal())
    }

    /// Copies exactly `size` bytes of content from `src`, then the block padding. A
    /// source with fewer bytes is an `UnexpectedEof` error (the file shrank).
    pub(crate) fn copy_content(&mut self, src: &mut dyn Read, size: u64) -> io::Result<()> {
        let copied = io::copy(&mut src.take(size), &mut self.out)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("expected {size} bytes, found {copied}"),
            ));
        }
        self.pad(size)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (size % BLOCK as u64) as usize;
        if rem != 0 {
            self.out.write_all(&[0u8; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }

    /// Writes the end-of-archive marker (two zero blocks) and returns the sink.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        Ok(self.out)
    }
}

/// `dir/PaxHeaders.0/base`, cut to fit the name field.
fn pax_header_name(path: &[u8]) -> Vec<u8> {
    let (dir, base) = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => (&path[..0], path),
    };
    let mut name = [dir, b"PaxHeaders.0/", base].concat();
    name.truncate(NAME_LEN);
    name
}
