//! Moving whole images in and out as tar streams: `docker load`, `docker save`,
//! `docker import`. Blocking code: callers run it on the blocking pool.
//!
//! A load or import either records its images or leaves the store as it was: blobs are
//! pinned while the archive is read, and blobs it added are removed again when it fails.

use std::io::{Read, Write};

use berth_oci::{
    ArchiveLimits, BlobSink, BlobSource, Digest, ExportImage, OciError, Platform, Reference,
};
use berth_proto::v1::{Progress, ProgressDetail};
use serde_json::{Value, json};

use crate::error::StoreError;
use crate::meta::Blob;
use crate::names::{self, Found};
use crate::store::{METADATA_LIMIT, Pins, Store};

/// One image a load recorded: its ID and the familiar names it got.
#[derive(Debug)]
pub struct Loaded {
    pub id: String,
    pub names: Vec<String>,
}

/// Streams blobs from an archive into the store, pinning each and remembering which
/// ones are new (to remove them if the load fails).
struct StoreSink<'a, 'p> {
    store: &'a Store,
    pins: Pins<'a>,
    added: Vec<Digest>,
    progress: &'p dyn Fn(Progress),
}

impl BlobSink for StoreSink<'_, '_> {
    fn put_blob(
        &mut self,
        expected: Option<&Digest>,
        size: u64,
        content: &mut dyn Read,
    ) -> berth_oci::Result<Digest> {
        if let Some(d) = expected.filter(|d| self.store.blobs.contains(d)) {
            self.pins.add(d);
            return Ok(d.clone());
        }
        let to_oci = |e: StoreError| OciError::Io(std::io::Error::other(e.to_string()));
        let mut ingest = self.store.blobs.ingest(None).map_err(to_oci)?;
        std::io::copy(&mut content.take(size), &mut ingest).map_err(OciError::Io)?;
        let (digest, existed) = ingest.commit(expected, Some(size)).map_err(to_oci)?;
        self.pins.add(&digest);
        if !existed {
            self.added.push(digest.clone());
        }
        (self.progress)(Progress {
            id: digest.hex()[..12].to_owned(),
            status: "Loading layer".to_owned(),
            detail: Some(ProgressDetail {
                current: size,
                total: size,
            }),
            ..Default::default()
        });
        Ok(digest)
    }
}

fn blob_of(d: &berth_oci::Descriptor) -> Blob {
    Blob {
        media_type: d.media_type().to_string(),
        digest: d.digest().to_string(),
        size: d.size(),
    }
}

/// `docker load`: reads the archive, records every image for this host's platform and
/// tags it. On any error nothing is recorded and the blobs it brought are removed.
pub fn import(
    store: &Store,
    input: impl Read,
    progress: &dyn Fn(Progress),
) -> Result<Vec<Loaded>, StoreError> {
    let mut sink = StoreSink {
        store,
        pins: store.pins(),
        added: Vec::new(),
        progress,
    };
    let result = read_and_record(store, input, &mut sink);
    if result.is_err() {
        store.discard(&sink.added);
    }
    result
}

fn read_and_record(
    store: &Store,
    input: impl Read,
    sink: &mut StoreSink<'_, '_>,
) -> Result<Vec<Loaded>, StoreError> {
    let contents = berth_oci::read_archive(input, sink, &ArchiveLimits::default())?;
    let images = contents.images_for(&Platform::host());
    if images.is_empty() {
        return Err(StoreError::InvalidArgument(
            "the archive holds no image for this platform (no manifest.json or index.json entries)"
                .to_owned(),
        ));
    }
    // Build every record first: a load with one bad image records none.
    let mut records = Vec::new();
    for image in &images {
        let (descriptor, bytes) = match &image.manifest {
            Some(m) => m.clone(),
            None => berth_oci::legacy_manifest(image)?,
        };
        let digest = store
            .blobs
            .put_bytes(&bytes, Some(&Digest::from_oci(descriptor.digest())?))?;
        sink.pins.add(&digest);
        let (id, record) = store.image_from_target(blob_of(&descriptor))?;
        records.push((id, record, image.repo_tags.clone()));
    }
    let _w = store.write.blocking_lock();
    let mut loaded = Vec::new();
    for (id, record, tags) in records {
        store.record_image(&id, record, &tags)?;
        loaded.push(Loaded {
            id,
            names: tags.iter().map(Reference::familiar).collect(),
        });
    }
    Ok(loaded)
}

/// What `docker save` will write: each reference resolved, named as the user named it.
pub fn export_plan(store: &Store, references: &[String]) -> Result<Vec<ExportImage>, StoreError> {
    if references.is_empty() {
        return Err(StoreError::InvalidArgument("no image to save".to_owned()));
    }
    let mut plan: Vec<ExportImage> = Vec::new();
    for text in references {
        let (_, record, found) = names::lookup(&store.meta, text)?;
        let manifest = berth_oci::Descriptor::new(
            record.manifest.media_type.as_str().into(),
            record.manifest.size,
            Digest::parse(&record.manifest.digest)?.to_oci(),
        );
        let names: Vec<Reference> = match found {
            Found::Name(n) if n.digest().is_none() => vec![n],
            _ => Vec::new(),
        };
        match plan
            .iter_mut()
            .find(|p| p.manifest.digest() == manifest.digest())
        {
            Some(existing) => existing.names.extend(names),
            None => plan.push(ExportImage { manifest, names }),
        }
    }
    Ok(plan)
}

struct StoreSource<'a>(&'a Store);

impl BlobSource for StoreSource<'_> {
    fn open(&mut self, digest: &Digest) -> berth_oci::Result<(u64, Box<dyn Read + '_>)> {
        let (file, size) = self
            .0
            .blobs
            .open_read(digest, 0)
            .map_err(|e| OciError::Io(std::io::Error::other(e.to_string())))?;
        Ok((size, Box::new(file)))
    }
}

/// Writes the archive of `images` to `out`.
pub fn export(store: &Store, images: &[ExportImage], out: impl Write) -> Result<(), StoreError> {
    let mut out = berth_oci::write_archive(out, images, &mut StoreSource(store))?;
    out.flush()
        .map_err(|e| StoreError::InvalidArgument(format!("sending the archive: {e}")))?;
    Ok(())
}

/// `docker import`: one layer from a root filesystem tar, a config with `changes`, a
/// manifest; tagged `name` when given. Returns the image ID.
pub fn import_rootfs(
    store: &Store,
    mut input: impl Read,
    changes: &[berth_oci::Change],
    message: &str,
    name: Option<&Reference>,
) -> Result<String, StoreError> {
    let mut pins = store.pins();
    let mut ingest = store.blobs.ingest(None)?;
    let size = std::io::copy(&mut input, &mut ingest)
        .map_err(|e| StoreError::InvalidArgument(format!("reading the import: {e}")))?;
    let (layer, _) = ingest.commit(None, Some(size))?;
    pins.add(&layer);
    // The diff ID is the digest of the uncompressed tar: a second pass, decompressing,
    // that also reads every header, so bytes that are not a whole tar archive never
    // become an image (Docker refuses them too).
    let (file, _) = store.blobs.open_read(&layer, 0)?;
    let summary = berth_layer::inspect(file, &berth_layer::Limits::default()).map_err(|e| {
        StoreError::InvalidArgument(format!(
            "the import is not a tar archive (plain, gzip or zstd): {e}"
        ))
    })?;
    let (compression, diff_id) = (summary.compression, summary.diff_id);
    let layer_type = match compression {
        berth_layer::Compression::None => "application/vnd.oci.image.layer.v1.tar",
        berth_layer::Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        berth_layer::Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    };

    let platform = Platform::host();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut config = json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "created": now,
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": [diff_id.to_string()] },
        "history": [{ "created": now, "comment": message }],
    });
    if let Some(v) = &platform.variant {
        config["variant"] = Value::from(v.clone());
    }
    berth_oci::apply_changes_to_image_config(&mut config, changes)?;
    let config_bytes =
        serde_json::to_vec(&config).map_err(|e| StoreError::InvalidArgument(e.to_string()))?;
    let config_digest = store.blobs.put_bytes(&config_bytes, None)?;
    pins.add(&config_digest);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config_bytes.len() },
        "layers": [{ "mediaType": layer_type, "digest": layer.to_string(), "size": size }],
    });
    let manifest_bytes =
        serde_json::to_vec(&manifest).map_err(|e| StoreError::InvalidArgument(e.to_string()))?;
    if manifest_bytes.len() as u64 > METADATA_LIMIT {
        return Err(StoreError::InvalidArgument(
            "the import's manifest is too large".to_owned(),
        ));
    }
    let manifest_digest = store.blobs.put_bytes(&manifest_bytes, None)?;
    pins.add(&manifest_digest);
    let (id, record) = store.image_from_target(Blob {
        media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
        digest: manifest_digest.to_string(),
        size: manifest_bytes.len() as u64,
    })?;
    let _w = store.write.blocking_lock();
    store.record_image(&id, record, &name.into_iter().cloned().collect::<Vec<_>>())?;
    Ok(id)
}
