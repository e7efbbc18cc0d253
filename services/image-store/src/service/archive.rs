//! docker save, docker load and docker import, as streams.

use berth_proto::v1::import_archive_request::Part as ArchivePart;
use berth_proto::v1::import_archive_response::Event;
use berth_proto::v1::import_rootfs_request::Part as RootfsPart;
use berth_proto::v1::*;
use futures::StreamExt;
use tokio::sync::mpsc;
use tonic::{Response, Status, Streaming};

use super::{ImageStoreService, Stream, blocking, to_proto_digest};
use crate::bridge::{ChannelReader, ChannelWriter};
use crate::transfer::{self, Loaded};

/// Chunk size of archive data sent back to the client.
const CHUNK: usize = 1 << 20;

/// Forwards the data messages of a request stream into a channel the blocking side
/// reads. A broken client stream becomes a read error, so the archive is rejected as
/// cut off rather than half loaded.
fn forward<T: Send + 'static>(
    mut stream: Streaming<T>,
    data: fn(T) -> Option<Vec<u8>>,
) -> mpsc::Receiver<Result<Vec<u8>, String>> {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        while let Some(message) = stream.next().await {
            let chunk = match message {
                Ok(m) => match data(m) {
                    Some(d) => Ok(d),
                    None => Err("a header may only come first".to_owned()),
                },
                Err(status) => Err(format!("the upload broke off: {}", status.message())),
            };
            let stop = chunk.is_err();
            if tx.send(chunk).await.is_err() || stop {
                break;
            }
        }
    });
    rx
}

impl ImageStoreService {
    pub(super) async fn export_archive_impl(
        &self,
        r: ExportArchiveRequest,
    ) -> Result<Response<Stream<ExportArchiveResponse>>, Status> {
        let store = self.store.clone();
        // Resolve before the stream starts, so "No such image" is an error status and not
        // a broken tar.
        let images = blocking({
            let store = store.clone();
            move || transfer::export_plan(&store, &r.references)
        })
        .await?;
        let (tx, rx) = mpsc::channel::<Result<ExportArchiveResponse, Status>>(4);
        tokio::task::spawn_blocking(move || {
            let writer =
                ChannelWriter::new(tx.clone(), CHUNK, |data| Ok(ExportArchiveResponse { data }));
            if let Err(e) = transfer::export(&store, &images, writer) {
                let _ = tx.blocking_send(Err(Status::from(e)));
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    pub(super) async fn import_archive_impl(
        &self,
        mut stream: Streaming<ImportArchiveRequest>,
    ) -> Result<Response<Stream<ImportArchiveResponse>>, Status> {
        let header = match stream.message().await?.and_then(|m| m.part) {
            Some(ArchivePart::Header(h)) => h,
            _ => {
                return Err(Status::invalid_argument(
                    "the first ImportArchive message must be the header",
                ));
            }
        };
        let input = forward(stream, |m| match m.part {
            Some(ArchivePart::Data(d)) => Some(d),
            _ => None,
        });
        let (tx, rx) = mpsc::channel::<Result<ImportArchiveResponse, Status>>(16);
        let store = self.store.clone();
        tokio::spawn(async move {
            let progress_tx = tx.clone();
            let quiet = header.quiet;
            let loaded = blocking({
                let store = store.clone();
                move || {
                    let progress = |p: Progress| {
                        if !quiet {
                            let _ = progress_tx.blocking_send(Ok(ImportArchiveResponse {
                                event: Some(Event::Progress(p)),
                            }));
                        }
                    };
                    transfer::import(&store, ChannelReader::new(input), &progress)
                }
            })
            .await;
            match loaded {
                Ok(images) => {
                    for Loaded { id, names } in images {
                        for name in names
                            .iter()
                            .map(Some)
                            .chain(names.is_empty().then_some(None))
                        {
                            store
                                .emit(
                                    berth_bus::event::EventKind::Image,
                                    "load",
                                    &id,
                                    name.map(String::as_str),
                                )
                                .await;
                            let _ = tx
                                .send(Ok(ImportArchiveResponse {
                                    event: Some(Event::Loaded(LoadedImage {
                                        reference: name.cloned().unwrap_or_default(),
                                        image_id: to_proto_digest(&id),
                                    })),
                                }))
                                .await;
                        }
                    }
                }
                Err(status) => {
                    let _ = tx.send(Err(status)).await;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    pub(super) async fn import_rootfs_impl(
        &self,
        mut stream: Streaming<ImportRootfsRequest>,
    ) -> Result<Response<ImportRootfsResponse>, Status> {
        let header = match stream.message().await?.and_then(|m| m.part) {
            Some(RootfsPart::Header(h)) => h,
            _ => {
                return Err(Status::invalid_argument(
                    "the first ImportRootfs message must be the header",
                ));
            }
        };
        // Bad changes or names are refused before a byte of the upload is stored.
        let changes =
            berth_oci::parse_changes(&header.changes).map_err(crate::error::StoreError::from)?;
        let name = match header.reference.as_str() {
            "" => None,
            r => Some(berth_oci::Reference::parse(r).map_err(crate::error::StoreError::from)?),
        };
        let input = forward(stream, |m| match m.part {
            Some(RootfsPart::Data(d)) => Some(d),
            _ => None,
        });
        let store = self.store.clone();
        let message = if header.message.is_empty() {
            "Imported from -".to_owned()
        } else {
            header.message
        };
        let n = name.clone();
        let id = blocking(move || {
            transfer::import_rootfs(
                &store,
                ChannelReader::new(input),
                &changes,
                &message,
                n.as_ref(),
            )
        })
        .await?;
        self.store
            .emit(
                berth_bus::event::EventKind::Image,
                "import",
                &id,
                name.map(|n| n.familiar()).as_deref(),
            )
            .await;
        Ok(Response::new(ImportRootfsResponse {
            image_id: to_proto_digest(id),
        }))
    }
}
