//! Bounds on what a layer may ask of us.
//!
//! A layer comes from the network; every quantity it controls (member count, bytes,
//! path lengths, metadata sizes) is checked against these limits *before* the work or
//! the allocation it implies. Nothing here may be skipped for "trusted" sources: callers
//! that trust a layer raise the limits instead.

use std::fmt;

/// Limits applied while reading a layer. The defaults fit real images (the largest
/// public images have layers of tens of GB and a few hundred thousand files) while
/// keeping a hostile layer from exhausting memory or disk unnoticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of archive members (extension headers not counted).
    pub max_entries: u64,
    /// Maximum size of the uncompressed tar stream, in bytes. This is what stops
    /// decompression bombs.
    pub max_total_bytes: u64,
    /// Maximum size of one regular file, in bytes.
    pub max_file_size: u64,
    /// Maximum length of a member path or link target, in bytes.
    pub max_path_len: usize,
    /// Maximum size of one extended attribute value, in bytes (the kernel's own cap is
    /// 64 KiB).
    pub max_xattr_size: usize,
    /// Maximum size of one PAX extended header, in bytes. These are read into memory.
    pub max_pax_header_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1_000_000,
            max_total_bytes: 64 << 30,
            max_file_size: 32 << 30,
            max_path_len: 4096,
            max_xattr_size: 64 << 10,
            max_pax_header_size: 1 << 20,
        }
    }
}

/// Which limit an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_entries`].
    Entries,
    /// [`Limits::max_total_bytes`].
    TotalBytes,
    /// [`Limits::max_file_size`].
    FileSize,
    /// [`Limits::max_path_len`].
    PathLength,
    /// [`Limits::max_xattr_size`].
    XattrSize,
    /// [`Limits::max_pax_header_size`].
    PaxHeaderSize,
}

impl Limit {
    /// The name of the [`Limits`] field that sets this limit.
    pub fn field_name(self) -> &'static str {
        match self {
            Limit::Entries => "max_entries",
            Limit::TotalBytes => "max_total_bytes",
            Limit::FileSize => "max_file_size",
            Limit::PathLength => "max_path_len",
            Limit::XattrSize => "max_xattr_size",
            Limit::PaxHeaderSize => "max_pax_header_size",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::Entries => "entry count",
            Limit::TotalBytes => "uncompressed size",
            Limit::FileSize => "file size",
            Limit::PathLength => "path length",
            Limit::XattrSize => "xattr size",
            Limit::PaxHeaderSize => "PAX header size",
        })
    }
}
