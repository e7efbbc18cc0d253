//! Manifests and indexes, OCI and Docker schema 2, parsed into oci-spec's types.
//!
//! Docker's schema 2 manifest and manifest list are the OCI documents under other media
//! types, so both parse into [`ImageManifest`] / [`ImageIndex`]. The parsed value is
//! for reading only: the digest of a manifest is always of the exact bytes stored or
//! received, so this module must never be used to re-encode a manifest someone else
//! wrote. Schema 1 manifests are refused.

use serde::Serialize;

pub use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};

use crate::digest::Digest;
use crate::error::{OciError, Result};
use crate::media_type::{self, DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED};

/// A parsed manifest document: one image, or an index of them.
#[allow(clippy::large_enum_variant)] // short-lived parse results; boxing buys nothing
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manifest {
    Image(ImageManifest),
    Index(ImageIndex),
}

impl Manifest {
    /// Parses manifest bytes. `media_type` is what the descriptor or the registry's
    /// Content-Type said, if anything; the document's own `mediaType` wins when
    /// present, and a contradiction is an error.
    pub fn parse(bytes: &[u8], media_type: Option<&str>) -> Result<Self> {
        let bad = |reason: String| OciError::InvalidManifest {
            what: describe(bytes),
            reason,
        };
        let probe: Probe =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not a JSON manifest: {e}")))?;
        if probe.schema_version == Some(1)
            || matches!(
                media_type,
                Some(DOCKER_MANIFEST_V1 | DOCKER_MANIFEST_V1_SIGNED)
            )
        {
            return Err(OciError::UnsupportedManifest {
                what: describe(bytes),
                reason: "Docker schema 1 manifests are not supported; push the image again with a current docker".to_owned(),
            });
        }
        if probe.schema_version != Some(2) {
            return Err(bad(format!(
                "schemaVersion is {:?}, expected 2",
                probe.schema_version
            )));
        }
        let kind = match (probe.media_type.as_deref(), media_type) {
            (Some(own), Some(given))
                if kind_of(own).is_some()
                    && kind_of(given).is_some()
                    && kind_of(own) != kind_of(given) =>
            {
                return Err(bad(format!("document says {own} but was given as {given}")));
            }
            (Some(own), _) if kind_of(own).is_some() => kind_of(own),
            (_, Some(given)) if kind_of(given).is_some() => kind_of(given),
            _ if probe.manifests.is_some() => Some(Kind::Index),
            _ if probe.config.is_some() => Some(Kind::Image),
            _ => None,
        };
        match kind {
            Some(Kind::Image) => {
                let m: ImageManifest =
                    serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
                Digest::from_oci(m.config().digest())?;
                for layer in m.layers() {
                    Digest::from_oci(layer.digest())?;
                }
                Ok(Self::Image(m))
            }
            Some(Kind::Index) => {
                let i: ImageIndex =
                    serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
                for m in i.manifests() {
                    Digest::from_oci(m.digest())?;
                }
                Ok(Self::Index(i))
            }
            None => Err(OciError::UnsupportedManifest {
                what: describe(bytes),
                reason: format!(
                    "media type {:?} is neither an image manifest nor an index",
                    probe
                        .media_type
                        .as_deref()
                        .or(media_type)
                        .unwrap_or("(none)")
                ),
            }),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Image,
    Index,
}

fn kind_of(media_type: &str) -> Option<Kind> {
    if media_type::is_manifest(media_type) {
        Some(Kind::Image)
    } else if media_type::is_index(media_type) {
        Some(Kind::Index)
    } else {
        None
    }
}

/// Just enough of a manifest to tell what it is.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u32>,
    media_type: Option<String>,
    manifests: Option<serde_json::Value>,
    config: Option<serde_json::Value>,
}

fn describe(bytes: &[u8]) -> String {
    Digest::of(bytes).to_string()
}

/// A descriptor for exactly these bytes.
pub fn descriptor_of(media_type: &str, bytes: &[u8]) -> Descriptor {
    Descriptor::new(
        MediaType::from(media_type),
        bytes.len() as u64,
        Digest::of(bytes).to_oci(),
    )
}

/// The sha256 digest of a descriptor, or an error for other algorithms.
pub fn descriptor_digest(descriptor: &Descriptor) -> Result<Digest> {
    Digest::from_oci(descriptor.digest())
}

/// Encodes `value` as compact JSON with object keys sorted at every level, so the same
/// value always gives the same bytes (oci-spec keeps labels and ports in hash maps,
/// whose order changes from run to run).
pub fn canonical_json(value: &impl Serialize) -> Result<Vec<u8>> {
    let value = sort_keys(serde_json::to_value(value)?);
    Ok(serde_json::to_vec(&value)?)
}

fn sort_keys(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests;
