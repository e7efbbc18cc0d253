//! Telling an image ID from an image name in what a user typed (`docker inspect X`,
//! `docker rmi X`, `docker run X`).
//!
//! Docker's rule, which the image store must follow:
//! 1. `sha256:<64 hex>` or bare `<64 hex>` is an image ID and only an ID; it never
//!    names a repository.
//! 2. Anything else must parse as a name (else the request is invalid). The store
//!    looks the name up first (with `:latest` added when no tag or digest is given).
//! 3. Only when no image has that name, and the input is lowercase hex (optionally
//!    after `sha256:`), the store tries it as a prefix of an image ID; a prefix
//!    matching more than one image is an error, not a guess.
//!
//! This module only classifies; it must never consult a store.

use super::Reference;
use crate::digest::Digest;
use crate::error::{OciError, Result};

/// How to look up an image that a user named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageLookup {
    /// A full image ID (`sha256:<64 hex>` or `<64 hex>`).
    Id(Digest),
    /// A name (normalised, `latest` added when neither tag nor digest was given).
    /// When `id_prefix` is set and no image has that name, try it as a unique prefix
    /// of an image ID (lowercase hex, without `sha256:`).
    Name {
        reference: Reference,
        id_prefix: Option<String>,
    },
}

/// Classifies `input` following Docker's `ParseAnyReference` plus the ID-prefix
/// fallback of its image store (see the module docs).
pub fn classify_image_ref(input: &str) -> Result<ImageLookup> {
    if super::grammar::is_identifier(input) {
        return Ok(ImageLookup::Id(Digest::from_hex(input)?));
    }
    match Digest::parse(input) {
        Ok(digest) => return Ok(ImageLookup::Id(digest)),
        // `sha512:<hex>` is a digest to Docker too, just one berth cannot hold.
        Err(e @ OciError::UnsupportedDigestAlgorithm { .. }) if looks_like_digest(input) => {
            return Err(e);
        }
        Err(_) => {}
    }
    let reference = Reference::parse(input)?;
    let hex = input.strip_prefix("sha256:").unwrap_or(input);
    let is_prefix = !hex.is_empty() && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
    Ok(ImageLookup::Name {
        reference,
        id_prefix: is_prefix.then(|| hex.to_owned()),
    })
}

fn looks_like_digest(input: &str) -> bool {
    input
        .split_once(':')
        .is_some_and(|(_, hex)| hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
}
