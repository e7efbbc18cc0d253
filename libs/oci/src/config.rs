//! Image configurations: parsing them into oci-spec's [`ImageConfiguration`] and
//! reading what `docker inspect`/`docker history` need (diff IDs, history with empty
//! layers, created time, labels, platform); and applying `--change` instructions
//! ([`changes`]).
//!
//! An image ID is the digest of the exact config bytes, so this module must never
//! re-encode a config it did not build: parsed values are for reading.

pub mod changes;
mod shell_words;

use std::collections::BTreeMap;

pub use oci_spec::image::{Config as ContainerConfig, History, ImageConfiguration, RootFs};

use crate::digest::Digest;
use crate::error::{OciError, Result};
use crate::platform::Platform;

/// Parses config bytes (OCI or Docker; Docker's extra fields are ignored).
pub fn parse_config(bytes: &[u8]) -> Result<ImageConfiguration> {
    serde_json::from_slice(bytes).map_err(|e| OciError::InvalidConfig {
        what: Digest::of(bytes).to_string(),
        reason: e.to_string(),
    })
}

/// The uncompressed layer digests, base layer first.
pub fn diff_ids(config: &ImageConfiguration) -> Result<Vec<Digest>> {
    config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| Digest::parse(d))
        .collect()
}

/// One history entry with the layer it made, if any (entries marked `empty_layer`
/// changed only the config). This is what `docker history` lists, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryStep {
    pub history: History,
    pub diff_id: Option<Digest>,
}

/// Pairs history entries with diff IDs the way Docker does: each entry that is not an
/// empty layer takes the next diff ID. Configs with no history get one step per layer.
pub fn history(config: &ImageConfiguration) -> Result<Vec<HistoryStep>> {
    let mut layers = diff_ids(config)?.into_iter();
    let Some(entries) = config.history().as_ref().filter(|h| !h.is_empty()) else {
        return Ok(layers
            .map(|diff_id| HistoryStep {
                history: History::default(),
                diff_id: Some(diff_id),
            })
            .collect());
    };
    Ok(entries
        .iter()
        .map(|h| HistoryStep {
            history: h.clone(),
            diff_id: if h.empty_layer().unwrap_or(false) {
                None
            } else {
                layers.next()
            },
        })
        .collect())
}

/// The creation time as written (RFC 3339), if any.
pub fn created(config: &ImageConfiguration) -> Option<&str> {
    config.created().as_deref()
}

/// The image's labels, sorted.
pub fn labels(config: &ImageConfiguration) -> BTreeMap<String, String> {
    config
        .config()
        .as_ref()
        .and_then(|c| c.labels().as_ref())
        .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The platform the image is for.
pub fn platform(config: &ImageConfiguration) -> Platform {
    Platform {
        os: config.os().to_string(),
        architecture: config.architecture().to_string(),
        variant: config.variant().clone().filter(|v| !v.is_empty()),
    }
}

#[cfg(test)]
mod tests;
