//! The tar format, read and written by berth itself.
//!
//! Why not the `tar` crate for reading: a layer is hostile input, and the crate reads
//! GNU long names and PAX headers into memory without a size bound, treats an archive
//! that stops at a block boundary as complete (so a truncated layer passes), expands
//! GNU sparse members, and reports errors as strings without the member. This reader
//! bounds every allocation by [`crate::Limits`], insists on the end-of-archive marker,
//! refuses sparse members and names the member in every error. The writer is ours so
//! that its output is byte-for-byte deterministic (PAX records sorted, no user or
//! group names, no atime/ctime, fixed extended-header names).
//!
//! This module only turns bytes into [`Member`]s and back; it must never touch the
//! filesystem or decide what a path means (that is `path` and `apply`).

mod header;
mod pax;
pub(crate) mod reader;
pub(crate) mod writer;

use crate::sys::Time;

/// Size of a tar block.
pub(crate) const BLOCK: usize = 512;

/// What a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    CharDevice,
    BlockDevice,
    Fifo,
}

impl MemberKind {
    /// The tar typeflag of this kind.
    pub fn typeflag(self) -> u8 {
        match self {
            MemberKind::File => b'0',
            MemberKind::Hardlink => b'1',
            MemberKind::Symlink => b'2',
            MemberKind::CharDevice => b'3',
            MemberKind::BlockDevice => b'4',
            MemberKind::Dir => b'5',
            MemberKind::Fifo => b'6',
        }
    }
}

/// One archive member with its extended headers folded in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub kind: MemberKind,
    /// The path as the archive gives it (PAX `path`, GNU long name, or the header).
    pub path: Vec<u8>,
    /// Link target for symlinks and hard links.
    pub link: Vec<u8>,
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: Time,
    /// Bytes of content that follow the header.
    pub size: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// `SCHILY.xattr.*` records, in archive order.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Offset of the member's first header in the uncompressed stream.
    pub offset: u64,
}

#[cfg(test)]
mod tests;
