//! The ImageStore gRPC service: each RPC translates protobuf to a [`Store`] call and back.
//! Blocking file work runs on the blocking pool, never on the async workers.

mod archive;
mod blobs;
mod cache;
mod images;
mod leases;

use std::sync::Arc;

use berth_proto::v1::image_store_server::ImageStore;
use berth_proto::v1::*;
use tonic::{Request, Response, Status, Streaming};

use crate::store::Store;

/// The service; cheap to clone (the store is shared).
#[derive(Debug, Clone)]
pub struct ImageStoreService {
    pub store: Arc<Store>,
    /// Serialises writers of one upload ID: the second waits for the first, then resumes.
    pub uploads: Arc<blobs::UploadLocks>,
}

impl ImageStoreService {
    pub fn new(store: Arc<Store>) -> Self {
        ImageStoreService {
            store,
            uploads: Arc::default(),
        }
    }
}

/// Runs blocking store work off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::error::StoreError> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("image store task failed: {e}")))?
        .map_err(Status::from)
}

pub fn digest_of(d: &Option<Digest>, what: &str) -> Result<berth_oci::Digest, Status> {
    let d = d
        .as_ref()
        .ok_or_else(|| Status::invalid_argument(format!("{what} is required")))?;
    d.value
        .parse()
        .map_err(|e: berth_oci::OciError| Status::invalid_argument(format!("{what}: {e}")))
}

pub fn to_proto_digest(d: impl ToString) -> Option<Digest> {
    Some(Digest {
        value: d.to_string(),
    })
}

pub fn timestamp(unix_nanos: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: unix_nanos.div_euclid(1_000_000_000),
        nanos: unix_nanos.rem_euclid(1_000_000_000) as i32,
    })
}

type Stream<T> = tonic::codegen::BoxStream<T>;

#[tonic::async_trait]
impl ImageStore for ImageStoreService {
    async fn read_blob(
        &self,
        r: Request<ReadBlobRequest>,
    ) -> Result<Response<Stream<ReadBlobResponse>>, Status> {
        self.read_blob_impl(r.into_inner()).await
    }
    async fn write_blob(
        &self,
        r: Request<Streaming<WriteBlobRequest>>,
    ) -> Result<Response<WriteBlobResponse>, Status> {
        self.write_blob_impl(r.into_inner()).await
    }
    async fn stat_upload(
        &self,
        r: Request<StatUploadRequest>,
    ) -> Result<Response<StatUploadResponse>, Status> {
        self.stat_upload_impl(r.into_inner()).await
    }
    async fn stat_blob(
        &self,
        r: Request<StatBlobRequest>,
    ) -> Result<Response<StatBlobResponse>, Status> {
        self.stat_blob_impl(r.into_inner()).await
    }
    async fn delete_blob(
        &self,
        r: Request<DeleteBlobRequest>,
    ) -> Result<Response<DeleteBlobResponse>, Status> {
        self.delete_blob_impl(r.into_inner()).await
    }
    async fn put_manifest(
        &self,
        r: Request<PutManifestRequest>,
    ) -> Result<Response<PutManifestResponse>, Status> {
        self.put_manifest_impl(r.into_inner()).await
    }
    async fn get_manifest(
        &self,
        r: Request<GetManifestRequest>,
    ) -> Result<Response<GetManifestResponse>, Status> {
        self.get_manifest_impl(r.into_inner()).await
    }
    async fn tag(&self, r: Request<TagRequest>) -> Result<Response<TagResponse>, Status> {
        self.tag_impl(r.into_inner()).await
    }
    async fn untag(&self, r: Request<UntagRequest>) -> Result<Response<UntagResponse>, Status> {
        self.untag_impl(r.into_inner()).await
    }
    async fn resolve(
        &self,
        r: Request<ResolveRequest>,
    ) -> Result<Response<ResolveResponse>, Status> {
        self.resolve_impl(r.into_inner()).await
    }
    async fn list_images(
        &self,
        r: Request<ListImagesRequest>,
    ) -> Result<Response<ListImagesResponse>, Status> {
        self.list_images_impl(r.into_inner()).await
    }
    async fn inspect_image(
        &self,
        r: Request<InspectImageRequest>,
    ) -> Result<Response<InspectImageResponse>, Status> {
        self.inspect_image_impl(r.into_inner()).await
    }
    async fn image_history(
        &self,
        r: Request<ImageHistoryRequest>,
    ) -> Result<Response<ImageHistoryResponse>, Status> {
        self.image_history_impl(r.into_inner()).await
    }
    async fn delete_image(
        &self,
        r: Request<DeleteImageRequest>,
    ) -> Result<Response<DeleteImageResponse>, Status> {
        self.delete_image_impl(r.into_inner()).await
    }
    async fn prune_images(
        &self,
        r: Request<PruneImagesRequest>,
    ) -> Result<Response<PruneImagesResponse>, Status> {
        self.prune_images_impl(r.into_inner()).await
    }
    async fn cache_get(
        &self,
        r: Request<CacheGetRequest>,
    ) -> Result<Response<CacheGetResponse>, Status> {
        self.cache_get_impl(r.into_inner()).await
    }
    async fn cache_put(
        &self,
        r: Request<CachePutRequest>,
    ) -> Result<Response<CachePutResponse>, Status> {
        self.cache_put_impl(r.into_inner()).await
    }
    async fn create_lease(
        &self,
        r: Request<CreateLeaseRequest>,
    ) -> Result<Response<CreateLeaseResponse>, Status> {
        self.create_lease_impl(r.into_inner()).await
    }
    async fn delete_lease(
        &self,
        r: Request<DeleteLeaseRequest>,
    ) -> Result<Response<DeleteLeaseResponse>, Status> {
        self.delete_lease_impl(r.into_inner()).await
    }
    async fn garbage_collect(
        &self,
        r: Request<GarbageCollectRequest>,
    ) -> Result<Response<GarbageCollectResponse>, Status> {
        let c = self.store.collect(r.into_inner().dry_run).await?;
        Ok(Response::new(GarbageCollectResponse {
            blobs_deleted: c.blobs,
            bytes_reclaimed: c.bytes,
        }))
    }
    async fn export_archive(
        &self,
        r: Request<ExportArchiveRequest>,
    ) -> Result<Response<Stream<ExportArchiveResponse>>, Status> {
        self.export_archive_impl(r.into_inner()).await
    }
    async fn import_archive(
        &self,
        r: Request<Streaming<ImportArchiveRequest>>,
    ) -> Result<Response<Stream<ImportArchiveResponse>>, Status> {
        self.import_archive_impl(r.into_inner()).await
    }
    async fn import_rootfs(
        &self,
        r: Request<Streaming<ImportRootfsRequest>>,
    ) -> Result<Response<ImportRootfsResponse>, Status> {
        self.import_rootfs_impl(r.into_inner()).await
    }
}
