//! `docker push`: an image from the image store to a registry. Blobs the registry has
//! are skipped (`Layer already exists`), the rest uploaded, then the manifest put under
//! the tag; the stream ends with Docker's `TAG: digest: sha256:... size: N`.

use std::sync::Arc;

use berth_oci::{Digest, Reference};
use berth_proto::v1 as proto;
use berth_proto::v1::image_store_client::ImageStoreClient;
use berth_registry::{Registry, RegistryError};
use berth_rpc::TracedChannel;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::mpsc;

use crate::progress::{Lines as _, Progress, short_id};

/// Bytes between two `Pushing` lines of one layer.
const PROGRESS_STEP: u64 = 512 << 10;
/// Docker's default `max-concurrent-uploads`.
const PARALLEL_UPLOADS: usize = 5;

/// Why a push failed, in the words the docker CLI prints.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("An image does not exist locally with the tag: {0}")]
    NoSuchImage(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("image store: {0}")]
    Store(String),
}

impl PushError {
    /// The HTTP status Docker answers a failure before any progress with.
    pub fn http_code(&self) -> i32 {
        // As in dockerd, a registry's refusal is a 500 (a 401 would make the CLI prompt).
        match self {
            PushError::NoSuchImage(_) => 404,
            _ => 500,
        }
    }
}

fn store_error(s: tonic::Status) -> PushError {
    PushError::Store(s.message().to_owned())
}

fn digest_of(d: Option<proto::Digest>) -> Result<Digest, PushError> {
    d.map(|d| d.value)
        .unwrap_or_default()
        .parse()
        .map_err(|e: berth_oci::OciError| PushError::Store(e.to_string()))
}

/// What one push needs.
pub struct Push {
    pub store: ImageStoreClient<TracedChannel>,
    pub registry: Arc<Registry>,
    pub reference: Reference,
    pub progress: mpsc::Sender<Progress>,
}

impl Push {
    async fn say(&self, p: Progress) {
        let _ = self.progress.send(p).await;
    }

    /// Pushes; returns the manifest's digest.
    pub async fn run(self) -> Result<Digest, PushError> {
        let name = self.reference.to_string();
        let resolved = self
            .store
            .clone()
            .resolve(proto::ResolveRequest {
                reference: name.clone(),
                platform: None,
            })
            .await
            .map_err(|s| match s.code() {
                tonic::Code::NotFound => PushError::NoSuchImage(self.reference.familiar()),
                _ => store_error(s),
            })?
            .into_inner();
        let manifest_digest = digest_of(resolved.manifest.and_then(|d| d.digest))?;
        let config = resolved.config.unwrap_or_default();
        let mut blobs = vec![(digest_of(config.digest)?, config.size, false)];
        for layer in resolved.layers {
            blobs.push((digest_of(layer.digest)?, layer.size, true));
        }
        let manifest = self
            .store
            .clone()
            .get_manifest(proto::GetManifestRequest {
                digest: Some(proto::Digest {
                    value: manifest_digest.to_string(),
                }),
            })
            .await
            .map_err(store_error)?
            .into_inner();
        self.say(Progress::status(&format!(
            "The push refers to repository [{}]",
            self.reference.name()
        )))
        .await;
        let repository = self.reference.path().to_owned();
        // Layers first, topmost first as Docker lists them; the config is pushed quietly.
        let layers: Vec<_> = blobs.iter().filter(|b| b.2).rev().collect();
        for (digest, _, _) in &layers {
            self.say(Progress::line(&short_id(digest), "Preparing"))
                .await;
        }
        let (this, repo) = (&self, repository.as_str());
        futures::stream::iter(blobs.iter().map(Ok::<_, PushError>))
            .try_for_each_concurrent(PARALLEL_UPLOADS, |(digest, size, shown)| async move {
                this.blob(repo, digest, *size, *shown).await
            })
            .await?;
        let tag = self.reference.tag().unwrap_or("latest").to_owned();
        let size = manifest.content.len();
        let digest = self
            .registry
            .push_manifest(
                &repository,
                &tag,
                &manifest.media_type,
                manifest.content.into(),
            )
            .await?;
        crate::progress::record_repo_digest(&self.store, &name, &self.reference, &digest)
            .await
            .map_err(store_error)?;
        self.say(Progress::status(&format!(
            "{tag}: digest: {digest} size: {size}"
        )))
        .await;
        self.say(Progress {
            aux: Some(proto::ProgressAux {
                tag,
                digest: Some(proto::Digest {
                    value: digest.to_string(),
                }),
                size: size as u64,
                image_id: None,
            }),
            ..Default::default()
        })
        .await;
        Ok(digest)
    }

    /// One blob: skipped when the registry has it, else read from the store and sent.
    async fn blob(
        &self,
        repository: &str,
        digest: &Digest,
        size: u64,
        shown: bool,
    ) -> Result<(), PushError> {
        let id = short_id(digest);
        if self.registry.blob_size(repository, digest).await?.is_some() {
            if shown {
                self.say(Progress::line(&id, "Layer already exists")).await;
            }
            return Ok(());
        }
        if shown {
            self.say(Progress::line(&id, "Pushing")).await;
        }
        let id_for_stream = id.clone();
        // Streamed from the store into one PUT: a layer never sits whole in memory.
        let chunks = self
            .store
            .clone()
            .read_blob(proto::ReadBlobRequest {
                digest: Some(proto::Digest {
                    value: digest.to_string(),
                }),
                offset: 0,
            })
            .await
            .map_err(store_error)?
            .into_inner();
        let progress = self.progress.clone();
        let (mut sent, mut said) = (0u64, 0u64);
        let data = chunks.map(move |chunk| {
            let chunk = chunk.map_err(|s| std::io::Error::other(s.message().to_owned()))?;
            sent += chunk.data.len() as u64;
            if shown && (sent - said >= PROGRESS_STEP || sent == size) {
                said = sent;
                let _ = progress.try_send(Progress {
                    id: id_for_stream.clone(),
                    status: "Pushing".into(),
                    detail: Some(proto::ProgressDetail {
                        current: sent,
                        total: size,
                    }),
                    ..Default::default()
                });
            }
            Ok(bytes::Bytes::from(chunk.data))
        });
        self.registry
            .push_blob_stream(repository, digest, size, data)
            .await?;
        if shown {
            self.say(Progress::line(&id, "Pushed")).await;
        }
        Ok(())
    }
}
