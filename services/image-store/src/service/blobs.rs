//! Blob and manifest RPCs.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

use berth_proto::v1::write_blob_request::Part;
use berth_proto::v1::*;
use futures::StreamExt;
use tonic::{Response, Status, Streaming};

use super::{ImageStoreService, Stream, blocking, digest_of, to_proto_digest};
use crate::meta::Blob;

/// How much one ReadBlob message carries: large enough to keep syscalls and frames few,
/// small enough for gRPC's default 4 MiB message limit.
const CHUNK: usize = 1 << 20;

/// One async lock per upload ID in use.
#[derive(Debug, Default)]
pub struct UploadLocks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl UploadLocks {
    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, l| Arc::strong_count(l) > 1);
        map.entry(id.to_owned()).or_default().clone()
    }
}

impl ImageStoreService {
    pub(super) async fn read_blob_impl(
        &self,
        r: ReadBlobRequest,
    ) -> Result<Response<Stream<ReadBlobResponse>>, Status> {
        let digest = digest_of(&r.digest, "digest")?;
        let store = self.store.clone();
        let (file, _) = blocking(move || store.blobs.open_read(&digest, r.offset)).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut file = file;
            loop {
                let mut buf = vec![0; CHUNK];
                let n = match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        let _ =
                            tx.blocking_send(Err(Status::internal(format!("reading blob: {e}"))));
                        break;
                    }
                };
                buf.truncate(n);
                if tx
                    .blocking_send(Ok(ReadBlobResponse { data: buf }))
                    .is_err()
                {
                    break; // the reader went away
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    pub(super) async fn write_blob_impl(
        &self,
        mut stream: Streaming<WriteBlobRequest>,
    ) -> Result<Response<WriteBlobResponse>, Status> {
        let header = match stream.message().await?.and_then(|m| m.part) {
            Some(Part::Header(h)) => h,
            _ => {
                return Err(Status::invalid_argument(
                    "the first WriteBlob message must be the header",
                ));
            }
        };
        let expected = digest_of(&header.expected_digest, "expected_digest")?;
        if let Some(info) = self.store.blobs.stat(&expected)? {
            self.protect(&header.lease_id, &expected).await?;
            return Ok(Response::new(WriteBlobResponse {
                digest: to_proto_digest(&expected),
                size: info.size,
                already_existed: true,
            }));
        }
        let upload_id = Some(header.upload_id.clone()).filter(|u| !u.is_empty());
        let lock = upload_id.as_deref().map(|id| self.uploads.lock_for(id));
        let _held = match &lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let store = self.store.clone();
        let mut ingest = blocking(move || store.blobs.ingest(upload_id.as_deref())).await?;
        if ingest.offset() != header.offset {
            return Err(Status::failed_precondition(format!(
                "upload {} holds {} bytes but the write starts at {}; resume from {}",
                header.upload_id,
                ingest.offset(),
                header.offset,
                ingest.offset()
            )));
        }
        while let Some(message) = stream.next().await {
            let data = match message?.part {
                Some(Part::Data(d)) => d,
                _ => {
                    return Err(Status::invalid_argument(
                        "only the first WriteBlob message may be a header",
                    ));
                }
            };
            if ingest.offset() + data.len() as u64 > header.expected_size {
                return Err(Status::invalid_argument(format!(
                    "more data than the {} bytes announced; the upload was discarded",
                    header.expected_size
                )));
            }
            ingest = tokio::task::spawn_blocking(move || {
                let mut ingest = ingest;
                ingest.write_all(&data).map(|_| ingest)
            })
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::internal(format!("writing the upload: {e}")))?;
        }
        let size = header.expected_size;
        // A named upload whose writer stopped short keeps its bytes for a resume (the
        // writer lost its source, say a registry connection); a private one is over.
        if !header.upload_id.is_empty() && ingest.offset() < size {
            let held = ingest.offset();
            drop(ingest);
            return Err(Status::aborted(format!(
                "upload {} holds {held} of {size} bytes; resume from {held}",
                header.upload_id
            )));
        }
        let want = expected.clone();
        let (digest, existed) = blocking(move || ingest.commit(Some(&want), Some(size))).await?;
        self.protect(&header.lease_id, &digest).await?;
        Ok(Response::new(WriteBlobResponse {
            digest: to_proto_digest(&digest),
            size,
            already_existed: existed,
        }))
    }

    /// Adds a blob to a lease, so GC keeps it until the lease ends.
    async fn protect(&self, lease_id: &str, digest: &berth_oci::Digest) -> Result<(), Status> {
        if lease_id.is_empty() {
            return Ok(());
        }
        let _w = self.store.write.lock().await;
        let mut lease = self.store.meta.lease(lease_id)?.ok_or_else(|| {
            Status::not_found(format!("lease {lease_id} does not exist or has expired"))
        })?;
        lease.protect.push(digest.to_string());
        self.store.meta.write(crate::meta::Changes {
            put_leases: vec![(lease_id.to_owned(), lease)],
            ..Default::default()
        })?;
        Ok(())
    }

    pub(super) async fn stat_upload_impl(
        &self,
        r: StatUploadRequest,
    ) -> Result<Response<StatUploadResponse>, Status> {
        let offset = self
            .store
            .blobs
            .upload_offset(&r.upload_id)?
            .ok_or_else(|| Status::not_found(format!("no upload {}", r.upload_id)))?;
        Ok(Response::new(StatUploadResponse {
            offset,
            ..Default::default()
        }))
    }

    pub(super) async fn stat_blob_impl(
        &self,
        r: StatBlobRequest,
    ) -> Result<Response<StatBlobResponse>, Status> {
        let digest = digest_of(&r.digest, "digest")?;
        let info = self.store.blobs.stat(&digest)?.ok_or_else(|| {
            Status::not_found(format!("blob {digest} not found in the image store"))
        })?;
        Ok(Response::new(StatBlobResponse {
            digest: to_proto_digest(&digest),
            size: info.size,
            created_at: Some(info.created.into()),
        }))
    }

    pub(super) async fn delete_blob_impl(
        &self,
        r: DeleteBlobRequest,
    ) -> Result<Response<DeleteBlobResponse>, Status> {
        let digest = digest_of(&r.digest, "digest")?;
        let _w = self.store.write.lock().await;
        let used = self
            .store
            .meta
            .images()?
            .iter()
            .any(|(_, i)| i.blobs().any(|b| b == digest.to_string()));
        if used {
            return Err(Status::failed_precondition(format!(
                "blob {digest} is part of a stored image; delete the image instead"
            )));
        }
        self.store.blobs.delete(&digest)?;
        Ok(Response::new(DeleteBlobResponse {}))
    }

    pub(super) async fn put_manifest_impl(
        &self,
        r: PutManifestRequest,
    ) -> Result<Response<PutManifestResponse>, Status> {
        let expected = match &r.expected_digest {
            Some(d) => Some(digest_of(&Some(d.clone()), "expected_digest")?),
            None => None,
        };
        let media_type = r.media_type.clone();
        let size = r.content.len() as u64;
        let store = self.store.clone();
        let _w = self.store.write.lock().await;
        let digest = blocking(move || {
            let digest = store.blobs.put_bytes(&r.content, expected.as_ref())?;
            // An image manifest (or an index with one for this host) is an image, even
            // untagged: `docker images -a` shows it and GC keeps it.
            let target = Blob {
                media_type,
                digest: digest.to_string(),
                size,
            };
            if let Ok((id, image)) = store.image_from_target(target) {
                store.record_image(&id, image, &[])?;
            }
            Ok(digest)
        })
        .await?;
        Ok(Response::new(PutManifestResponse {
            digest: to_proto_digest(&digest),
            size,
        }))
    }

    pub(super) async fn get_manifest_impl(
        &self,
        r: GetManifestRequest,
    ) -> Result<Response<GetManifestResponse>, Status> {
        let digest = digest_of(&r.digest, "digest")?;
        let store = self.store.clone();
        let d = digest.clone();
        let (content, value) = blocking(move || store.json_blob(&d.to_string())).await?;
        Ok(Response::new(GetManifestResponse {
            content,
            media_type: value["mediaType"].as_str().unwrap_or_default().to_owned(),
            digest: to_proto_digest(&digest),
        }))
    }
}
