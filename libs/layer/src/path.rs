//! Member paths: turning what an archive says into a canonical relative path, and
//! recognising OCI whiteout names.
//!
//! This is the first line against escapes: a path that is absolute or contains a `..`
//! component is refused here, before any filesystem call. It must never "fix" such a
//! path (stripping `../` silently would make two different archives unpack alike and
//! hide an attack); only the harmless `./` and `//` forms are normalised.

use crate::error::{LayerError, Result, show};

/// Prefix of an OCI whiteout file: `dir/.wh.NAME` deletes `dir/NAME`.
pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// Name of the OCI opaque marker: `dir/.wh..wh..opq` hides everything lower in `dir`.
pub const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
/// Prefix of aufs metadata (`.wh..wh.plnk` and friends), ignored when applying.
const AUFS_META_PREFIX: &[u8] = b".wh..wh.";

/// A member path in canonical form: components joined by single `/`, no leading `/`,
/// no `.` or `..` components, no trailing `/`. The empty path is the root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MemberPath(Vec<u8>);

impl MemberPath {
    /// Canonicalises `raw` or explains why it is refused.
    pub(crate) fn parse(raw: &[u8]) -> Result<Self> {
        if raw.contains(&0) {
            return Err(invalid(raw, "path contains a NUL byte"));
        }
        if raw.first() == Some(&b'/') {
            return Err(LayerError::Escape {
                path: show(raw),
                reason: "absolute path",
            });
        }
        let mut out = Vec::with_capacity(raw.len());
        for component in raw.split(|&b| b == b'/') {
            match component {
                b"" | b"." => {}
                b".." => {
                    return Err(LayerError::Escape {
                        path: show(raw),
                        reason: "\"..\" component",
                    });
                }
                name => {
                    if !out.is_empty() {
                        out.push(b'/');
                    }
                    out.extend_from_slice(name);
                }
            }
        }
        Ok(MemberPath(out))
    }

    pub(crate) fn from_canonical(bytes: Vec<u8>) -> Self {
        debug_assert!(MemberPath::parse(&bytes).is_ok_and(|p| p.0 == bytes));
        MemberPath(bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The parent directory (the root for a top-level name; the root is its own parent).
    pub(crate) fn parent(&self) -> &[u8] {
        match self.0.iter().rposition(|&b| b == b'/') {
            Some(i) => &self.0[..i],
            None => &[],
        }
    }

    /// The last component (empty for the root).
    pub(crate) fn name(&self) -> &[u8] {
        match self.0.iter().rposition(|&b| b == b'/') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// `self/name`.
    pub(crate) fn join(&self, name: &[u8]) -> MemberPath {
        let mut out = Vec::with_capacity(self.0.len() + 1 + name.len());
        out.extend_from_slice(&self.0);
        if !out.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(name);
        MemberPath(out)
    }

    /// Every proper ancestor, nearest first, excluding the root.
    pub(crate) fn ancestors(&self) -> impl Iterator<Item = &[u8]> {
        let bytes = &self.0;
        bytes
            .iter()
            .enumerate()
            .rev()
            .filter(|&(_, &b)| b == b'/')
            .map(move |(i, _)| &bytes[..i])
    }
}

/// What a member's name means for whiteout handling.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WhiteoutKind {
    /// An ordinary member.
    None,
    /// `dir/.wh.NAME`: delete `dir/NAME` from lower layers.
    Whiteout(MemberPath),
    /// `dir/.wh..wh..opq`: `dir` hides its lower content.
    Opaque(MemberPath),
    /// Other `.wh..wh.` names: aufs bookkeeping, skipped.
    AufsMeta,
}

/// Classifies a canonical member path. The opaque marker is checked before the plain
/// prefix, since it also starts with `.wh.`.
pub(crate) fn whiteout_kind(path: &MemberPath) -> Result<WhiteoutKind> {
    let name = path.name();
    if name == OPAQUE_MARKER {
        return Ok(WhiteoutKind::Opaque(MemberPath(path.parent().to_vec())));
    }
    if name.starts_with(AUFS_META_PREFIX) {
        return Ok(WhiteoutKind::AufsMeta);
    }
    if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            return Err(invalid(path.as_bytes(), "whiteout names no file"));
        }
        let parent = MemberPath(path.parent().to_vec());
        return Ok(WhiteoutKind::Whiteout(parent.join(hidden)));
    }
    Ok(WhiteoutKind::None)
}

fn invalid(raw: &[u8], reason: &str) -> LayerError {
    LayerError::InvalidEntry {
        path: show(raw),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests;
