//! The images containers are made from, as creating and collecting need them: the image
//! store behind a seam, so the domain knows no gRPC and tests can stand in for it.

use berth_oci::Digest;

/// An image, pinned by ID.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedImage {
    pub id: String,
    /// The layer blobs, bottom first.
    pub layers: Vec<Digest>,
}

/// A failure the image store reported, with its kind kept so a missing image stays
/// Docker's 404.
pub type ImageError = crate::error::Refusal;

/// Where containers' images and their layers come from.
#[async_trait::async_trait]
pub trait ImageSource: berth_snapshots::BlobSource + std::fmt::Debug {
    /// The image `reference` (name, ID or digest) names now.
    async fn resolve(&self, reference: &str) -> Result<ResolvedImage, ImageError>;
    /// The config JSON of the image with this ID.
    async fn config(&self, image_id: &str) -> Result<Vec<u8>, ImageError>;
    /// The IDs of every image the store holds.
    async fn image_ids(&self) -> Result<Vec<String>, ImageError>;
}
