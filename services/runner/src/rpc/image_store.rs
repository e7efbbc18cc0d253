//! The image store as containers see it ([`ImageSource`]), over its gRPC client.

use berth_oci::Digest;
use berth_proto::v1::image_store_client::ImageStoreClient;
use berth_proto::v1::{InspectImageRequest, ListImagesRequest, ReadBlobRequest, ResolveRequest};
use berth_rpc::TracedChannel;
use berth_snapshots::{BlobError, BlobSource};
use futures::StreamExt as _;
use futures::stream::BoxStream;

use crate::containers::images::{ImageError, ImageSource, ResolvedImage};
use crate::error::ErrorKind;

#[derive(Debug, Clone)]
pub struct ImageStore(pub ImageStoreClient<TracedChannel>);

fn image_error(s: tonic::Status) -> ImageError {
    use tonic::Code;
    let kind = match s.code() {
        Code::NotFound => ErrorKind::NotFound,
        Code::InvalidArgument => ErrorKind::Invalid,
        Code::AlreadyExists => ErrorKind::Conflict,
        Code::FailedPrecondition => ErrorKind::State,
        Code::PermissionDenied | Code::Unauthenticated => ErrorKind::Denied,
        Code::Unimplemented => ErrorKind::Unsupported,
        Code::Unavailable | Code::DeadlineExceeded => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    ImageError {
        kind,
        message: s.message().to_owned(),
    }
}

#[async_trait::async_trait]
impl ImageSource for ImageStore {
    async fn resolve(&self, reference: &str) -> Result<ResolvedImage, ImageError> {
        let image = self
            .0
            .clone()
            .resolve(ResolveRequest {
                reference: reference.to_owned(),
                platform: None,
            })
            .await
            .map_err(image_error)?
            .into_inner();
        let internal = |message: String| ImageError {
            kind: ErrorKind::Internal,
            message,
        };
        let id = image
            .image_id
            .map(|d| d.value)
            .ok_or_else(|| internal("the image store resolved no image ID".into()))?;
        let layers = image
            .layers
            .iter()
            .map(|l| {
                let digest = l.digest.as_ref().map(|d| d.value.as_str()).unwrap_or("");
                digest
                    .parse::<Digest>()
                    .map_err(|e| internal(format!("invalid digest: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(ResolvedImage { id, layers })
    }

    async fn config(&self, image_id: &str) -> Result<Vec<u8>, ImageError> {
        Ok(self
            .0
            .clone()
            .inspect_image(InspectImageRequest {
                reference: image_id.to_owned(),
                platform: None,
            })
            .await
            .map_err(image_error)?
            .into_inner()
            .config_json)
    }

    async fn image_ids(&self) -> Result<Vec<String>, ImageError> {
        Ok(self
            .0
            .clone()
            .list_images(ListImagesRequest {
                all: true,
                ..Default::default()
            })
            .await
            .map_err(image_error)?
            .into_inner()
            .images
            .into_iter()
            .filter_map(|i| i.id.map(|d| d.value))
            .collect())
    }
}

#[async_trait::async_trait]
impl BlobSource for ImageStore {
    async fn read_blob(
        &self,
        digest: &Digest,
    ) -> Result<BoxStream<'static, Result<bytes::Bytes, BlobError>>, BlobError> {
        let stream = self
            .0
            .clone()
            .read_blob(ReadBlobRequest {
                digest: Some(berth_proto::v1::Digest {
                    value: digest.to_string(),
                }),
                offset: 0,
            })
            .await?
            .into_inner();
        Ok(stream
            .map(|chunk| {
                chunk
                    .map(|c| bytes::Bytes::from(c.data))
                    .map_err(|s| Box::new(s) as BlobError)
            })
            .boxed())
    }
}
