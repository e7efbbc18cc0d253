//! Making a manifest for an image loaded from a legacy docker-archive, which has a
//! config and layers but no manifest.
//!
//! The result is deterministic (same config and layers, same bytes, same digest): a
//! Docker schema 2 manifest when config and layers all have Docker media types (what
//! Docker itself would make), otherwise an OCI manifest with OCI media types. This
//! module must never be used on an image that came with a manifest: that one's bytes
//! are the image's identity and must be kept.

use oci_spec::image::{Descriptor, ImageManifest, ImageManifestBuilder, MediaType};

use super::read::ArchiveImage;
use crate::error::{OciError, Result};
use crate::manifest::descriptor_of;
use crate::media_type::{self, DOCKER_MANIFEST, OCI_CONFIG, OCI_MANIFEST};

/// Builds the manifest for `image`: its descriptor and exact bytes.
pub fn legacy_manifest(image: &ArchiveImage) -> Result<(Descriptor, Vec<u8>)> {
    let docker = media_type::is_docker(image.config.media_type().as_ref())
        && image
            .layers
            .iter()
            .all(|l| media_type::is_docker(l.media_type().as_ref()));
    let plain = |d: &Descriptor, media_type: MediaType| {
        Descriptor::new(media_type, d.size(), d.digest().clone())
    };
    let (manifest_type, config, layers) = if docker {
        let layers = image
            .layers
            .iter()
            .map(|l| plain(l, l.media_type().clone()))
            .collect();
        (
            DOCKER_MANIFEST,
            plain(&image.config, image.config.media_type().clone()),
            layers,
        )
    } else {
        let mut layers = Vec::new();
        for layer in &image.layers {
            let media = layer.media_type().to_string();
            let compression =
                media_type::layer_compression(&media).ok_or_else(|| OciError::InvalidManifest {
                    what: format!("for legacy image {}", image.config.digest()),
                    reason: format!("layer media type {media} is not a layer type"),
                })?;
            layers.push(plain(
                layer,
                MediaType::from(compression.oci_layer_media_type()),
            ));
        }
        (
            OCI_MANIFEST,
            plain(&image.config, MediaType::from(OCI_CONFIG)),
            layers,
        )
    };
    let manifest: ImageManifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::from(manifest_type))
        .config(config)
        .layers(layers)
        .build()
        .map_err(|e| OciError::InvalidManifest {
            what: format!("for legacy image {}", image.config.digest()),
            reason: e.to_string(),
        })?;
    // No maps in it (annotations are unset), so serde's field order is stable.
    let bytes = serde_json::to_vec(&manifest)?;
    Ok((descriptor_of(manifest_type, &bytes), bytes))
}
