//! `docker pull`: a manifest (or an index, narrowed to one platform) from a registry into
//! the image store, layers downloaded a few at a time straight into the store, which
//! checks every digest before anything becomes visible. Progress goes out as Docker's
//! lines (`Pulling fs layer`, `Downloading`, `Download complete`, `Pull complete`,
//! `Digest:`, `Status:`).

use std::sync::Arc;

use berth_oci::manifest::Manifest;
use berth_oci::platform::{Platform, select_manifest};
use berth_oci::{Digest, Reference};
use berth_proto::v1 as proto;
use berth_proto::v1::image_store_client::ImageStoreClient;
use berth_registry::{Credentials, Registry, RegistryError};
use berth_rpc::TracedChannel;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::mpsc;

use crate::progress::{Lines as _, Progress, short_id};

/// Docker's default `max-concurrent-downloads`.
const PARALLEL_DOWNLOADS: usize = 3;
/// The largest config berth reads.
const CONFIG_LIMIT: usize = 8 << 20;
/// How often a layer download cut short is resumed, and the first wait (then 2x, 3x).
const RETRIES: u32 = 3;
const RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);
/// Bytes between two `Downloading` lines of one layer.
const PROGRESS_STEP: u64 = 512 << 10;

/// Why a pull failed, in the words the docker CLI prints.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("invalid reference format: {0}")]
    Reference(String),
    #[error("manifest for {reference} not found: {source}")]
    NotFound {
        reference: String,
        source: RegistryError,
    },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A download cut short: resumed, a few times, where it stopped.
    #[error("{0}")]
    Interrupted(RegistryError),
    #[error("{0}")]
    Image(String),
    #[error("image store: {0}")]
    Store(String),
}

impl PullError {
    /// The HTTP status Docker answers this failure with, when it comes before any
    /// progress (the gateway turns a first-line failure into an error response).
    pub fn http_code(&self) -> i32 {
        // Registry refusals are 500s in dockerd, not 401s: a 401 makes the docker CLI
        // prompt for a login, which is not what a failed pull asks for.
        match self {
            PullError::Reference(_) => 400,
            PullError::NotFound { .. } => 404,
            _ => 500,
        }
    }
}

impl PullError {
    fn is_interruption(&self) -> bool {
        matches!(self, PullError::Interrupted(_))
    }
}

fn store_error(s: tonic::Status) -> PullError {
    PullError::Store(s.message().to_owned())
}

/// What one pull needs.
pub struct Pull {
    pub store: ImageStoreClient<TracedChannel>,
    pub registry: Arc<Registry>,
    pub reference: Reference,
    pub platform: Platform,
    pub lease_id: String,
    pub progress: mpsc::Sender<Progress>,
}

/// The registry client for `reference`'s domain.
pub fn registry_for(
    reference: &Reference,
    transport: &berth_registry::TransportConfig,
    credentials: Option<Credentials>,
) -> Registry {
    Registry::new(reference.domain(), transport.clone(), credentials)
}

impl Pull {
    async fn say(&self, p: Progress) {
        let _ = self.progress.send(p).await;
    }

    /// Pulls; returns the manifest digest the reference resolved to.
    pub async fn run(self) -> Result<Digest, PullError> {
        let repository = self.reference.path().to_owned();
        let asked = match (self.reference.digest(), self.reference.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_owned(),
            (None, None) => "latest".to_owned(),
        };
        let shown = self.reference.familiar();
        let tag_or_digest = self.reference.digest().map_or_else(
            || self.reference.tag().unwrap_or("latest").to_owned(),
            |d| d.to_string(),
        );
        let top = self
            .registry
            .manifest(&repository, &asked)
            .await
            .map_err(|e| match e {
                e if e.is_not_found() => PullError::NotFound {
                    reference: shown.clone(),
                    source: e,
                },
                e => PullError::Registry(e),
            })?;
        self.say(Progress::line(
            &tag_or_digest,
            &format!("Pulling from {}", self.reference.path()),
        ))
        .await;
        let parsed = Manifest::parse(&top.bytes, Some(&top.media_type))
            .map_err(|e| PullError::Image(e.to_string()))?;
        // An index: the platform's manifest is what gets pulled; the index is kept too,
        // so the name keeps pointing at what the registry serves.
        let (manifest_fetched, image) = match parsed {
            Manifest::Image(m) => (top.clone(), m),
            Manifest::Index(index) => {
                let chosen = select_manifest(&index, &self.platform)
                    .map_err(|e| PullError::Image(e.to_string()))?;
                let digest = berth_oci::manifest::descriptor_digest(chosen)
                    .map_err(|e| PullError::Image(e.to_string()))?;
                let fetched = self
                    .registry
                    .manifest(&repository, &digest.to_string())
                    .await?;
                match Manifest::parse(&fetched.bytes, Some(&fetched.media_type))
                    .map_err(|e| PullError::Image(e.to_string()))?
                {
                    Manifest::Image(m) => (fetched, m),
                    Manifest::Index(_) => {
                        return Err(PullError::Image(format!(
                            "{shown}: an index inside an index is not supported"
                        )));
                    }
                }
            }
        };
        let config_digest = berth_oci::manifest::descriptor_digest(image.config())
            .map_err(|e| PullError::Image(e.to_string()))?;
        let before = self.image_id_of(&self.reference.to_string()).await;
        let config_known = self.has_blob(&config_digest).await;

        // Layers, a few at a time; each goes straight into the store.
        let layers: Vec<(Digest, u64, String)> = image
            .layers()
            .iter()
            .map(|l| {
                berth_oci::manifest::descriptor_digest(l)
                    .map(|d| (d, l.size(), l.media_type().to_string()))
                    .map_err(|e| PullError::Image(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        if !config_known {
            for (digest, _, _) in &layers {
                self.say(Progress::line(&short_id(digest), "Pulling fs layer"))
                    .await;
            }
        }
        let (this, repo) = (&self, repository.as_str());
        futures::stream::iter(layers.iter().map(Ok::<_, PullError>))
            .try_for_each_concurrent(PARALLEL_DOWNLOADS, |(digest, size, _)| async move {
                this.layer(repo, digest, *size, config_known).await
            })
            .await?;
        let config = self
            .registry
            .blob_bytes(&repository, &config_digest, CONFIG_LIMIT)
            .await?;
        self.write_blob(&config_digest, config.to_vec()).await?;
        self.put_manifest(&manifest_fetched).await?;
        if top.digest != manifest_fetched.digest {
            self.put_manifest(&top).await?;
        }
        if self.reference.digest().is_none() {
            let name = self
                .reference
                .with_tag(self.reference.tag().unwrap_or("latest"))
                .map_err(|e| PullError::Reference(e.to_string()))?;
            self.store
                .clone()
                .tag(proto::TagRequest {
                    source: config_digest.to_string(),
                    target: Some(proto::ImageReference {
                        original: name.to_string(),
                        ..Default::default()
                    }),
                    repo_digest: false,
                })
                .await
                .map_err(store_error)?;
        }
        crate::progress::record_repo_digest(
            &self.store,
            &config_digest.to_string(),
            &self.reference,
            &top.digest,
        )
        .await
        .map_err(store_error)?;
        self.say(Progress::status(&format!("Digest: {}", top.digest)))
            .await;
        let up_to_date = before.as_deref() == Some(&config_digest.to_string());
        let status = if up_to_date {
            format!("Status: Image is up to date for {shown}")
        } else {
            format!("Status: Downloaded newer image for {shown}")
        };
        self.say(Progress::status(&status)).await;
        Ok(top.digest)
    }

    /// One layer: skipped when the store has it, else streamed into the store.
    async fn layer(
        &self,
        repository: &str,
        digest: &Digest,
        size: u64,
        quiet: bool,
    ) -> Result<(), PullError> {
        let id = short_id(digest);
        if self.claim(digest, size).await {
            if !quiet {
                self.say(Progress::line(&id, "Already exists")).await;
            }
            return Ok(());
        }
        // Named, so a download cut short resumes where the store stopped (Range).
        let upload_id = format!("pull-{}", digest.to_string().replace(':', "-"));
        let mut attempt = 0;
        loop {
            let offset = if attempt == 0 {
                0
            } else {
                self.uploaded(&upload_id).await
            };
            match self
                .download(repository, digest, size, &upload_id, offset)
                .await
            {
                Ok(()) => break,
                Err(e) if attempt < RETRIES && e.is_interruption() => {
                    attempt += 1;
                    let wait = RETRY_DELAY * attempt;
                    tracing::info!(layer = %digest, error = %e, attempt, "download cut short, resuming");
                    let seconds = wait.as_secs();
                    let unit = if seconds == 1 { "second" } else { "seconds" };
                    self.say(Progress::line(
                        &id,
                        &format!("Retrying in {seconds} {unit}"),
                    ))
                    .await;
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
        self.say(Progress::line(&id, "Verifying Checksum")).await;
        self.say(Progress::line(&id, "Download complete")).await;
        self.say(Progress::line(&id, "Pull complete")).await;
        Ok(())
    }

    /// Streams the layer from `offset` into the store's upload `upload_id`.
    async fn download(
        &self,
        repository: &str,
        digest: &Digest,
        size: u64,
        upload_id: &str,
        offset: u64,
    ) -> Result<(), PullError> {
        let id = short_id(digest);
        let (_, stream) = self.registry.blob(repository, digest, offset).await?;
        let header = self.blob_header(digest, size, upload_id, offset);
        let progress = self.progress.clone();
        let (error_tx, mut error_rx) = tokio::sync::oneshot::channel::<RegistryError>();
        let mut error_tx = Some(error_tx);
        let mut done = offset;
        let mut said = offset;
        let data = stream
            .map(move |chunk| match chunk {
                Ok(bytes) => {
                    done += bytes.len() as u64;
                    if done - said >= PROGRESS_STEP || done == size {
                        said = done;
                        let _ = progress.try_send(Progress::downloading(&id, done, size));
                    }
                    Some(proto::WriteBlobRequest {
                        part: Some(proto::write_blob_request::Part::Data(bytes.to_vec())),
                    })
                }
                Err(e) => {
                    if let Some(tx) = error_tx.take() {
                        let _ = tx.send(e);
                    }
                    None
                }
            })
            .take_while(|m| std::future::ready(m.is_some()))
            .filter_map(std::future::ready);
        let written = self
            .store
            .clone()
            .write_blob(futures::stream::iter([header]).chain(data))
            .await;
        if let Ok(e) = error_rx.try_recv() {
            return Err(PullError::Interrupted(e));
        }
        match written {
            Ok(_) => Ok(()),
            // The registry's answer ended early without an error: cut short all the same.
            Err(s) if s.code() == tonic::Code::Aborted => Err(PullError::Interrupted(
                RegistryError::Invalid(format!("layer {digest}: {}", s.message())),
            )),
            Err(s) => Err(PullError::Image(format!("layer {digest}: {}", s.message()))),
        }
    }

    /// How many bytes of a named upload the store holds.
    async fn uploaded(&self, upload_id: &str) -> u64 {
        self.store
            .clone()
            .stat_upload(proto::StatUploadRequest {
                upload_id: upload_id.to_owned(),
            })
            .await
            .map(|r| r.into_inner().offset)
            .unwrap_or(0)
    }

    /// The first message of a blob write: the store refuses bytes that do not hash to
    /// `digest` or run past `size`, and keeps the blob under the pull's lease.
    fn blob_header(
        &self,
        digest: &Digest,
        size: u64,
        upload_id: impl Into<String>,
        offset: u64,
    ) -> proto::WriteBlobRequest {
        proto::WriteBlobRequest {
            part: Some(proto::write_blob_request::Part::Header(
                proto::WriteBlobHeader {
                    expected_digest: Some(proto::Digest {
                        value: digest.to_string(),
                    }),
                    expected_size: size,
                    upload_id: upload_id.into(),
                    offset,
                    lease_id: self.lease_id.clone(),
                },
            )),
        }
    }

    async fn has_blob(&self, digest: &Digest) -> bool {
        self.store
            .clone()
            .stat_blob(proto::StatBlobRequest {
                digest: Some(proto::Digest {
                    value: digest.to_string(),
                }),
            })
            .await
            .is_ok()
    }

    /// Whether the store has the blob, and if so, puts it under the pull's lease: an
    /// image deleted meanwhile must not take a layer this pull counts on. A write of
    /// no bytes does both (the store answers `already_existed` and protects it); when
    /// the blob is absent that write fails, and the blob is downloaded.
    async fn claim(&self, digest: &Digest, size: u64) -> bool {
        let header = self.blob_header(digest, size, String::new(), 0);
        self.store
            .clone()
            .write_blob(futures::stream::iter([header]))
            .await
            .is_ok_and(|r| r.into_inner().already_existed)
    }

    async fn write_blob(&self, digest: &Digest, data: Vec<u8>) -> Result<(), PullError> {
        let header = self.blob_header(digest, data.len() as u64, String::new(), 0);
        let data = proto::WriteBlobRequest {
            part: Some(proto::write_blob_request::Part::Data(data)),
        };
        self.store
            .clone()
            .write_blob(futures::stream::iter([header, data]))
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn put_manifest(&self, m: &berth_registry::Fetched) -> Result<(), PullError> {
        self.store
            .clone()
            .put_manifest(proto::PutManifestRequest {
                content: m.bytes.to_vec(),
                media_type: m.media_type.clone(),
                expected_digest: Some(proto::Digest {
                    value: m.digest.to_string(),
                }),
                lease_id: self.lease_id.clone(),
            })
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// The image ID a name points at now, if any.
    async fn image_id_of(&self, name: &str) -> Option<String> {
        self.store
            .clone()
            .resolve(proto::ResolveRequest {
                reference: name.to_owned(),
                platform: None,
            })
            .await
            .ok()?
            .into_inner()
            .image_id
            .map(|d| d.value)
    }
}
