//! The 512-byte ustar/GNU header: field offsets, numeric encodings, checksum.
//!
//! Parsing is strict where leniency would let two readers disagree (checksums, digits)
//! and tolerant where real archives vary harmlessly (space or NUL terminators, GNU
//! base-256 numbers). Nothing here allocates beyond one field.

use super::BLOCK;

const NAME: (usize, usize) = (0, 100);
const MODE: (usize, usize) = (100, 8);
const UID: (usize, usize) = (108, 8);
const GID: (usize, usize) = (116, 8);
const SIZE: (usize, usize) = (124, 12);
const MTIME: (usize, usize) = (136, 12);
const CHKSUM: (usize, usize) = (148, 8);
const TYPEFLAG: usize = 156;
const LINKNAME: (usize, usize) = (157, 100);
const MAGIC: (usize, usize) = (257, 6);
const VERSION: (usize, usize) = (263, 2);
const DEVMAJOR: (usize, usize) = (329, 8);
const DEVMINOR: (usize, usize) = (337, 8);
const PREFIX: (usize, usize) = (345, 155);

const USTAR_MAGIC: &[u8] = b"ustar\0";
const USTAR_VERSION: &[u8] = b"00";

/// Largest value an octal field of `len` bytes holds (one byte is the terminator).
pub(crate) fn octal_max(len: usize) -> u64 {
    (1u64 << (3 * (len - 1))) - 1
}

pub(crate) const NAME_LEN: usize = NAME.1;
pub(crate) const ID_MAX: u64 = (1 << 21) - 1;
pub(crate) const SIZE_MAX: u64 = (1 << 33) - 1;

/// A header block being read.
pub(crate) struct HeaderView<'a>(pub(crate) &'a [u8; BLOCK]);

fn field(block: &[u8; BLOCK], (start, len): (usize, usize)) -> &[u8] {
    &block[start..start + len]
}

/// The bytes of a string field up to its first NUL.
fn text(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

impl HeaderView<'_> {
    pub(crate) fn typeflag(&self) -> u8 {
        self.0[TYPEFLAG]
    }

    /// True for POSIX ustar (which has the prefix field); GNU and v7 headers have none.
    fn is_posix_ustar(&self) -> bool {
        field(self.0, MAGIC) == USTAR_MAGIC && field(self.0, VERSION) == USTAR_VERSION
    }

    /// The name, with the ustar prefix joined in front when there is one.
    pub(crate) fn path(&self) -> Vec<u8> {
        let name = text(field(self.0, NAME));
        let prefix = if self.is_posix_ustar() {
            text(field(self.0, PREFIX))
        } else {
            &[]
        };
        if prefix.is_empty() {
            name.to_vec()
        } else {
            let mut path = Vec::with_capacity(prefix.len() + 1 + name.len());
            path.extend_from_slice(prefix);
            path.push(b'/');
            path.extend_from_slice(name);
            path
        }
    }

    pub(crate) fn link(&self) -> Vec<u8> {
        text(field(self.0, LINKNAME)).to_vec()
    }

    pub(crate) fn mode(&self) -> Result<u64, &'static str> {
        parse_unsigned(field(self.0, MODE)).ok_or("bad mode field")
    }

    pub(crate) fn uid(&self) -> Result<u64, &'static str> {
        parse_unsigned(field(self.0, UID)).ok_or("bad uid field")
    }

    pub(crate) fn gid(&self) -> Result<u64, &'static str> {
        parse_unsigned(field(self.0, GID)).ok_or("bad gid field")
    }

    pub(crate) fn size(&self) -> Result<u64, &'static str> {
        parse_unsigned(field(self.0, SIZE)).ok_or("bad size field")
    }

    pub(crate) fn mtime(&self) -> Result<i64, &'static str> {
        parse_signed(field(self.0, MTIME)).ok_or("bad mtime field")
    }

    pub(crate) fn dev(&self) -> Result<(u32, u32), &'static str> {
        let major = parse_unsigned(field(self.0, DEVMAJOR)).ok_or("bad devmajor field")?;
        let minor = parse_unsigned(field(self.0, DEVMINOR)).ok_or("bad devminor field")?;
        Ok((
            u32::try_from(major).map_err(|_| "devmajor out of range")?,
            u32::try_from(minor).map_err(|_| "devminor out of range")?,
        ))
    }

    /// Checks the header checksum; both the standard unsigned sum and the signed sum
    /// some old tars wrote are accepted.
    pub(crate) fn checksum_ok(&self) -> bool {
        let Some(stored) = parse_unsigned(field(self.0, CHKSUM)) else {
            return false;
        };
        let (mut unsigned, mut signed) = (0u64, 0i64);
        for (i, &b) in self.0.iter().enumerate() {
            let b = if (CHKSUM.0..CHKSUM.0 + CHKSUM.1).contains(&i) {
                b' '
            } else {
                b
            };
            unsigned += u64::from(b);
            signed += i64::from(b as i8);
        }
        stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed)
    }
}

/// Parses an octal field (optionally space/NUL padded) or a GNU base-256 field.
pub(crate) fn parse_unsigned(bytes: &[u8]) -> Option<u64> {
    let value = parse_signed_wide(bytes)?;
    u64::try_from(value).ok()
}

pub(crate) fn parse_signed(bytes: &[u8]) -> Option<i64> {
    i64::try_from(parse_signed_wide(bytes)?).ok()
}

fn parse_signed_wide(bytes: &[u8]) -> Option<i128> {
    let first = *bytes.first()?;
    if first & 0x80 != 0 {
        // GNU base-256: big-endian two's complement; the top bit of the first byte is
        // the marker, and 0xff starts a negative number.
        let negative = first == 0xff;
        let mut magnitude: u128 = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let b = if i == 0 { b & 0x7f } else { b };
            let b = if negative {
                !b & if i == 0 { 0x7f } else { 0xff }
            } else {
                b
            };
            magnitude = magnitude.checked_mul(256)?.checked_add(u128::from(b))?;
            if magnitude > u128::from(u64::MAX) {
                return None;
            }
        }
        let magnitude = i128::try_from(magnitude).ok()?;
        return Some(if negative { -magnitude - 1 } else { magnitude });
    }
    let mut digits = bytes
        .iter()
        .skip_while(|&&b| b == b' ' || b == 0)
        .peekable();
    let mut value: i128 = 0;
    while let Some(&b) = digits.peek() {
        match b {
            b'0'..=b'7' => {
                value = value * 8 + i128::from(b - b'0');
                if value > i128::from(u64::MAX) {
                    return None;
                }
                digits.next();
            }
            b' ' | 0 => break,
            _ => return None,
        }
    }
    // After the terminator only padding may follow.
    if digits.any(|&b| b != b' ' && b != 0) {
        return None;
    }
    Some(value)
}

/// A header block being written; starts all zeros.
pub(crate) struct HeaderBuilder(pub(crate) [u8; BLOCK]);

impl HeaderBuilder {
    pub(crate) fn new(typeflag: u8) -> Self {
        let mut block = [0u8; BLOCK];
        block[TYPEFLAG] = typeflag;
        block[MAGIC.0..MAGIC.0 + MAGIC.1].copy_from_slice(USTAR_MAGIC);
        block[VERSION.0..VERSION.0 + VERSION.1].copy_from_slice(USTAR_VERSION);
        HeaderBuilder(block)
    }

    fn put_text(&mut self, (start, len): (usize, usize), value: &[u8]) {
        let n = value.len().min(len);
        self.0[start..start + n].copy_from_slice(&value[..n]);
    }

    /// Writes `value` as zero-padded octal with a NUL terminator; the caller has
    /// checked it fits (`octal_max`).
    fn put_octal(&mut self, (start, len): (usize, usize), value: u64) {
        debug_assert!(value <= octal_max(len));
        let digits = format!("{value:0width$o}", width = len - 1);
        self.0[start..start + len - 1].copy_from_slice(digits.as_bytes());
        self.0[start + len - 1] = 0;
    }

    pub(crate) fn name(&mut self, name: &[u8]) {
        self.put_text(NAME, name);
    }

    pub(crate) fn link(&mut self, link: &[u8]) {
        self.put_text(LINKNAME, link);
    }

    pub(crate) fn mode(&mut self, mode: u32) {
        self.put_octal(MODE, u64::from(mode & 0o7777));
    }

    pub(crate) fn uid(&mut self, uid: u64) {
        self.put_octal(UID, uid);
    }

    pub(crate) fn gid(&mut self, gid: u64) {
        self.put_octal(GID, gid);
    }

    pub(crate) fn size(&mut self, size: u64) {
        self.put_octal(SIZE, size);
    }

    pub(crate) fn mtime(&mut self, mtime: u64) {
        self.put_octal(MTIME, mtime);
    }

    pub(crate) fn dev(&mut self, major: u64, minor: u64) {
        self.put_octal(DEVMAJOR, major);
        self.put_octal(DEVMINOR, minor);
    }

    /// Fills in the checksum; call last.
    pub(crate) fn seal(mut self) -> [u8; BLOCK] {
        self.0[CHKSUM.0..CHKSUM.0 + CHKSUM.1].fill(b' ');
        let sum: u64 = self.0.iter().map(|&b| u64::from(b)).sum();
        let digits = format!("{sum:06o}");
        self.0[CHKSUM.0..CHKSUM.0 + 6].copy_from_slice(digits.as_bytes());
        self.0[CHKSUM.0 + 6] = 0;
        self.0[CHKSUM.0 + 7] = b' ';
        self.0
    }
}
