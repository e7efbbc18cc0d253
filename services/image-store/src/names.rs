//! Turning what a user typed into an image: Docker's lookup order.
//!
//! A full ID (`sha256:<64 hex>` or 64 hex) names an image directly. Anything else is
//! first read as a name (`busybox` -> `docker.io/library/busybox:latest`); only when no
//! such name exists and the text is hex is it taken as a unique ID prefix, as Docker does
//! (`docker rmi 3f2a`).

use berth_oci::Reference;

use crate::error::StoreError;
use crate::meta::{ImageRecord, Meta};

/// How an image was found, which decides what `docker rmi` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// By a name: the normalised reference, e.g. `docker.io/library/busybox:latest`.
    Name(Reference),
    /// By ID or ID prefix.
    Id,
}

/// Finds the image `text` names.
pub fn lookup(meta: &Meta, text: &str) -> Result<(String, ImageRecord, Found), StoreError> {
    // Longer than any valid reference (a 255-byte name, a domain, a tag and a digest); a
    // message echoing it could not even travel in a gRPC status.
    if text.len() > MAX_REFERENCE_LEN {
        return Err(StoreError::InvalidArgument(format!(
            "invalid reference format: a reference is at most {MAX_REFERENCE_LEN} bytes, this one is {}",
            text.len()
        )));
    }
    let not_found = || StoreError::ImageNotFound(text.to_owned());
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    let is_hex = !hex.is_empty()
        && hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    if is_hex && hex.len() == 64 {
        let id = format!("sha256:{hex}");
        return match meta.image(&id)? {
            Some(image) => Ok((id, image, Found::Id)),
            None => Err(not_found()),
        };
    }
    let parsed = Reference::parse(text);
    if let Ok(reference) = &parsed {
        let reference = reference.clone();
        if let Some(digest) = reference.digest() {
            // name@digest: the digest is the manifest's (or the index's) as pulled.
            let digest = digest.to_string();
            for (id, image) in meta.images()? {
                if image.target.digest == digest || image.manifest.digest == digest {
                    return Ok((id, image, Found::Name(reference)));
                }
            }
        } else if let Some(tag) = meta.tag(&reference.to_string())?
            && let Some(image) = meta.image(&tag.image_id)?
        {
            return Ok((tag.image_id, image, Found::Name(reference)));
        }
    }
    if is_hex {
        let prefix = format!("sha256:{hex}");
        let mut matches = meta
            .images()?
            .into_iter()
            .filter(|(id, _)| id.starts_with(&prefix));
        if let Some((id, image)) = matches.next() {
            if matches.next().is_some() {
                return Err(StoreError::InvalidArgument(format!(
                    "multiple IDs found with provided prefix: {text}"
                )));
            }
            return Ok((id, image, Found::Id));
        }
    }
    match parsed {
        // Neither a name nor an ID: the user's mistake, as Docker answers it (400).
        Err(e) if !is_hex => Err(StoreError::InvalidArgument(e.to_string())),
        _ => Err(not_found()),
    }
}

/// Docker's bounds: a name of at most 255 bytes, a domain, a tag of 128, a digest.
pub const MAX_REFERENCE_LEN: usize = 1024;

/// The names pointing at `image_id`, familiar form (`busybox:latest`), sorted.
pub fn tags_of(meta: &Meta, image_id: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut names: Vec<(String, String)> = meta
        .tags()?
        .into_iter()
        .filter(|(_, t)| t.image_id == image_id)
        .map(|(full, _)| {
            let familiar = Reference::parse(&full)
                .map(|r| r.familiar())
                .unwrap_or_else(|_| full.clone());
            (full, familiar)
        })
        .collect();
    names.sort();
    Ok(names)
}
