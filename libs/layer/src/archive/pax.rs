//! PAX extended headers: `"<len> <key>=<value>\n"` records.
//!
//! Only the keys that change what gets unpacked are kept (path, linkpath, size, uid,
//! gid, mtime, `SCHILY.xattr.*`); the rest (atime, ctime, uname, gname, comments) is
//! dropped on purpose so it can never influence the result. Sparse-file keys are
//! reported so the reader can refuse the member.

use crate::sys::Time;

/// The records of one PAX header that matter to us.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PaxRecords {
    pub(crate) path: Option<Vec<u8>>,
    pub(crate) linkpath: Option<Vec<u8>>,
    pub(crate) size: Option<u64>,
    pub(crate) uid: Option<u64>,
    pub(crate) gid: Option<u64>,
    pub(crate) mtime: Option<Time>,
    pub(crate) xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) sparse: bool,
}

/// Why a PAX header was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PaxError {
    Malformed(&'static str),
    XattrTooLarge(usize),
}

const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

/// Parses a PAX header body. `max_xattr` bounds each xattr value.
pub(crate) fn parse(mut data: &[u8], max_xattr: usize) -> Result<PaxRecords, PaxError> {
    let mut records = PaxRecords::default();
    while !data.is_empty() {
        // A header may be padded with NULs after the last record.
        if data.iter().all(|&b| b == 0) {
            break;
        }
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or(PaxError::Malformed("record without a length"))?;
        let len_text = &data[..space];
        if len_text.is_empty() || !len_text.iter().all(u8::is_ascii_digit) || len_text.len() > 19 {
            return Err(PaxError::Malformed("record length is not a number"));
        }
        let len: usize = std::str::from_utf8(len_text)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(PaxError::Malformed("record length is not a number"))?;
        if len <= space + 1 || len > data.len() {
            return Err(PaxError::Malformed("record length out of bounds"));
        }
        let record = &data[space + 1..len];
        data = &data[len..];
        let record = record
            .strip_suffix(b"\n")
            .ok_or(PaxError::Malformed("record does not end with a newline"))?;
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or(PaxError::Malformed("record without '='"))?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        // An empty value deletes the keyword: the header's own field applies.
        if value.is_empty() {
            continue;
        }
        apply_record(&mut records, key, value, max_xattr)?;
    }
    Ok(records)
}

fn apply_record(
    records: &mut PaxRecords,
    key: &[u8],
    value: &[u8],
    max_xattr: usize,
) -> Result<(), PaxError> {
    match key {
        b"path" => records.path = Some(value.to_vec()),
        b"linkpath" => records.linkpath = Some(value.to_vec()),
        b"size" => records.size = Some(decimal(value).ok_or(PaxError::Malformed("bad size"))?),
        b"uid" => records.uid = Some(decimal(value).ok_or(PaxError::Malformed("bad uid"))?),
        b"gid" => records.gid = Some(decimal(value).ok_or(PaxError::Malformed("bad gid"))?),
        b"mtime" => records.mtime = Some(timestamp(value).ok_or(PaxError::Malformed("bad mtime"))?),
        _ if key.starts_with(b"GNU.sparse.") => records.sparse = true,
        _ => {
            if let Some(name) = key.strip_prefix(XATTR_PREFIX) {
                if value.len() > max_xattr {
                    return Err(PaxError::XattrTooLarge(value.len()));
                }
                records.xattrs.push((name.to_vec(), value.to_vec()));
            }
        }
    }
    Ok(())
}

fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Parses `[-]SECONDS[.FRACTION]`.
fn timestamp(value: &[u8]) -> Option<Time> {
    let (negative, rest) = match value.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (secs, frac) = match rest.iter().position(|&b| b == b'.') {
        Some(dot) => (&rest[..dot], &rest[dot + 1..]),
        None => (rest, &[][..]),
    };
    if !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs = i64::try_from(decimal(secs)?).ok()?;
    let mut nsec: u32 = 0;
    for i in 0..9 {
        nsec = nsec * 10 + frac.get(i).map_or(0, |d| u32::from(d - b'0'));
    }
    Some(if !negative {
        Time { sec: secs, nsec }
    } else if nsec == 0 {
        Time {
            sec: -secs,
            nsec: 0,
        }
    } else {
        Time {
            sec: -secs - 1,
            nsec: 1_000_000_000 - nsec,
        }
    })
}

/// Appends one record to `out`, computing the self-inclusive length prefix.
pub(crate) fn push_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + digits(body);
    if digits(len) != digits(body) {
        len = body + digits(len);
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn digits(n: usize) -> usize {
    n.to_string().len()
}

/// `SCHILY.xattr.<name>`.
pub(crate) fn xattr_key(name: &[u8]) -> Vec<u8> {
    [XATTR_PREFIX, name].concat()
}
