//! Paths inside an image archive: cleaning them (refusing absolute paths and `..`) and
//! telling what each file is (metadata, a content-addressed blob, a legacy
//! docker-archive file, or something to skip).
//!
//! This module must never touch a filesystem: archive paths are names, not places.

use crate::digest::Digest;
use crate::error::{OciError, Result};

/// The small files read into memory.
pub(crate) const MANIFEST_JSON: &str = "manifest.json";
pub(crate) const INDEX_JSON: &str = "index.json";
pub(crate) const OCI_LAYOUT: &str = "oci-layout";
pub(crate) const REPOSITORIES: &str = "repositories";

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PathKind {
    /// `manifest.json`, `index.json`, `oci-layout`, `repositories`.
    Metadata,
    /// `blobs/sha256/<hex>`.
    Blob(Digest),
    /// `<id>/layer.tar`, `<id>.json` or `<hex>.tar` of a legacy docker-archive.
    LegacyBlob,
    /// Anything else (`<id>/json`, `<id>/VERSION`, unknown files): read past.
    Skip,
}

/// Normalises an entry path: drops `./` and empty components, refuses absolute paths,
/// `..` and non-UTF-8. `None` for the archive root itself.
pub(crate) fn clean(raw: &[u8], max_len: usize) -> Result<Option<String>> {
    let text = std::str::from_utf8(raw).map_err(|_| {
        OciError::archive(format!(
            "entry path {:?} is not UTF-8",
            String::from_utf8_lossy(raw)
        ))
    })?;
    if text.len() > max_len {
        return Err(OciError::limit(format!(
            "entry path of {} bytes (the limit is {max_len})",
            text.len()
        )));
    }
    if text.starts_with('/') {
        return Err(OciError::archive(format!(
            "entry {text:?} has an absolute path; image archives hold relative paths only"
        )));
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(OciError::archive(format!(
                    "entry {text:?} climbs out with '..'; refusing a path-traversal archive"
                )));
            }
            p => parts.push(p),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

pub(crate) fn classify(path: &str) -> Result<PathKind> {
    if matches!(path, MANIFEST_JSON | INDEX_JSON | OCI_LAYOUT | REPOSITORIES) {
        return Ok(PathKind::Metadata);
    }
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["blobs", algorithm, encoded] => {
            let digest = Digest::parse(&format!("{algorithm}:{encoded}")).map_err(|e| {
                OciError::archive(format!("blob {path:?} is not named by a digest: {e}"))
            })?;
            Ok(PathKind::Blob(digest))
        }
        ["blobs", ..] if parts.len() > 3 => Err(OciError::archive(format!(
            "unexpected nested path {path:?} under blobs/"
        ))),
        [_, "layer.tar"] => Ok(PathKind::LegacyBlob),
        // `<id>.json` configs; skopeo also stores layers as `<hex>.tar`.
        [name] if name.ends_with(".json") || name.ends_with(".tar") => Ok(PathKind::LegacyBlob),
        _ => Ok(PathKind::Skip),
    }
}

/// Resolves a symlink's target relative to the link's directory, inside the archive.
pub(crate) fn resolve_link(link_path: &str, target: &[u8], max_len: usize) -> Result<String> {
    let target_text = std::str::from_utf8(target)
        .map_err(|_| OciError::archive(format!("symlink {link_path:?} has a non-UTF-8 target")))?;
    if target_text.starts_with('/') {
        return Err(OciError::archive(format!(
            "symlink {link_path:?} points to the absolute path {target_text:?}; refusing it"
        )));
    }
    let mut parts: Vec<&str> = link_path.split('/').collect();
    parts.pop();
    for part in target_text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(OciError::archive(format!(
                        "symlink {link_path:?} -> {target_text:?} points outside the archive; refusing it"
                    )));
                }
            }
            p => parts.push(p),
        }
    }
    let resolved = parts.join("/");
    if resolved.is_empty() || resolved.len() > max_len {
        return Err(OciError::archive(format!(
            "symlink {link_path:?} -> {target_text:?} does not point to a file"
        )));
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_and_refuses_paths() {
        assert_eq!(
            clean(b"./blobs//sha256/", 100).unwrap().as_deref(),
            Some("blobs/sha256")
        );
        assert_eq!(clean(b"./", 100).unwrap(), None);
        assert!(clean(b"/etc/passwd", 100).is_err());
        assert!(clean(b"a/../../b", 100).is_err());
        assert!(clean(&[0xff, b'a'], 100).is_err());
        assert!(clean(b"aaaa", 3).is_err());
    }

    #[test]
    fn classifies_paths() {
        let hex = "a".repeat(64);
        assert_eq!(classify("manifest.json").unwrap(), PathKind::Metadata);
        assert!(matches!(
            classify(&format!("blobs/sha256/{hex}")).unwrap(),
            PathKind::Blob(_)
        ));
        assert!(classify("blobs/sha256/zz").is_err());
        assert!(classify(&format!("blobs/sha512/{hex}")).is_err());
        assert_eq!(classify("abc/layer.tar").unwrap(), PathKind::LegacyBlob);
        assert_eq!(
            classify(&format!("{hex}.json")).unwrap(),
            PathKind::LegacyBlob
        );
        assert_eq!(classify("abc/json").unwrap(), PathKind::Skip);
        assert_eq!(classify("abc/VERSION").unwrap(), PathKind::Skip);
    }

    #[test]
    fn resolves_links_inside_only() {
        assert_eq!(
            resolve_link("b/layer.tar", b"../a/layer.tar", 100).unwrap(),
            "a/layer.tar"
        );
        assert!(resolve_link("b/layer.tar", b"../../etc/passwd", 100).is_err());
        assert!(resolve_link("b/layer.tar", b"/etc/passwd", 100).is_err());
    }
}
