//! Media type names of OCI and Docker image content, and questions about them (is this
//! a manifest? a layer? how is this layer compressed?).
//!
//! This module only classifies strings; it must never decide how content is stored or
//! rewrite a media type that came from a manifest.

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image configuration.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI uncompressed layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI gzip layer.
pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI zstd layer.
pub const OCI_LAYER_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI non-distributable layers (deprecated by the spec, still found on Windows images).
pub const OCI_NONDISTRIBUTABLE_LAYER_TAR: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const OCI_NONDISTRIBUTABLE_LAYER_TAR_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
pub const OCI_NONDISTRIBUTABLE_LAYER_TAR_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
/// The `oci-layout` file of an image layout.
pub const OCI_LAYOUT_HEADER: &str = "application/vnd.oci.layout.header.v1+json";

/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list (the schema 2 index).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 1 manifests, which berth does not read.
pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_MANIFEST_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// Docker container image configuration.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker uncompressed layer.
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker gzip layer.
pub const DOCKER_LAYER_TAR_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker foreign (non-distributable) gzip layer.
pub const DOCKER_FOREIGN_LAYER_TAR_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Guesses the compression from the first bytes of a blob (gzip and zstd magic
    /// numbers); anything else is taken as an uncompressed tar.
    pub fn sniff(first_bytes: &[u8]) -> Self {
        if first_bytes.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else if first_bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Self::Zstd
        } else {
            Self::None
        }
    }

    /// The OCI layer media type for this compression.
    pub fn oci_layer_media_type(self) -> &'static str {
        match self {
            Self::None => OCI_LAYER_TAR,
            Self::Gzip => OCI_LAYER_TAR_GZIP,
            Self::Zstd => OCI_LAYER_TAR_ZSTD,
        }
    }

    /// The Docker layer media type for this compression. Docker has no zstd type, so
    /// zstd layers keep the OCI one.
    pub fn docker_layer_media_type(self) -> &'static str {
        match self {
            Self::None => DOCKER_LAYER_TAR,
            Self::Gzip => DOCKER_LAYER_TAR_GZIP,
            Self::Zstd => OCI_LAYER_TAR_ZSTD,
        }
    }
}

/// An image manifest (OCI or Docker schema 2), not an index.
pub fn is_manifest(media_type: &str) -> bool {
    matches!(media_type, OCI_MANIFEST | DOCKER_MANIFEST)
}

/// An index of manifests (OCI index or Docker manifest list).
pub fn is_index(media_type: &str) -> bool {
    matches!(media_type, OCI_INDEX | DOCKER_MANIFEST_LIST)
}

/// An image configuration.
pub fn is_config(media_type: &str) -> bool {
    matches!(media_type, OCI_CONFIG | DOCKER_CONFIG)
}

/// A filesystem layer of any compression, OCI or Docker.
pub fn is_layer(media_type: &str) -> bool {
    layer_compression(media_type).is_some()
}

/// A layer the registry may not serve (non-distributable/foreign): such layers may be
/// absent from an archive.
pub fn is_foreign_layer(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_NONDISTRIBUTABLE_LAYER_TAR
            | OCI_NONDISTRIBUTABLE_LAYER_TAR_GZIP
            | OCI_NONDISTRIBUTABLE_LAYER_TAR_ZSTD
            | DOCKER_FOREIGN_LAYER_TAR_GZIP
    )
}

/// The compression of a layer media type, or `None` when it is not a layer type.
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        OCI_LAYER_TAR | OCI_NONDISTRIBUTABLE_LAYER_TAR | DOCKER_LAYER_TAR => {
            Some(Compression::None)
        }
        OCI_LAYER_TAR_GZIP
        | OCI_NONDISTRIBUTABLE_LAYER_TAR_GZIP
        | DOCKER_LAYER_TAR_GZIP
        | DOCKER_FOREIGN_LAYER_TAR_GZIP => Some(Compression::Gzip),
        OCI_LAYER_TAR_ZSTD | OCI_NONDISTRIBUTABLE_LAYER_TAR_ZSTD => Some(Compression::Zstd),
        _ => None,
    }
}

/// A Docker (not OCI) media type: images made only of these get a Docker schema 2
/// manifest rather than an OCI one.
pub fn is_docker(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.docker.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_media_types() {
        assert!(is_manifest(OCI_MANIFEST) && is_manifest(DOCKER_MANIFEST));
        assert!(!is_manifest(OCI_INDEX) && is_index(DOCKER_MANIFEST_LIST));
        assert!(is_config(DOCKER_CONFIG) && !is_layer(DOCKER_CONFIG));
        assert_eq!(layer_compression(DOCKER_LAYER_TAR), Some(Compression::None));
        assert_eq!(
            layer_compression(DOCKER_LAYER_TAR_GZIP),
            Some(Compression::Gzip)
        );
        assert_eq!(
            layer_compression(OCI_LAYER_TAR_ZSTD),
            Some(Compression::Zstd)
        );
        assert_eq!(layer_compression("application/json"), None);
        assert!(is_foreign_layer(DOCKER_FOREIGN_LAYER_TAR_GZIP));
    }

    #[test]
    fn sniffs_compression() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"bin/"), Compression::None);
        assert_eq!(Compression::sniff(&[]), Compression::None);
    }
}
