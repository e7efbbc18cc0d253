//! Writing an image archive as Docker 25+ `docker save` does: an OCI image layout and a
//! docker-archive in one tar, over one copy of each blob.
//!
//! ```text
//! blobs/  blobs/sha256/  blobs/sha256/<hex>...   every manifest, config and layer once
//! index.json      one descriptor per name (io.containerd.image.name = full name,
//!                 org.opencontainers.image.ref.name = tag); untagged images once
//! manifest.json   [{"Config": "blobs/sha256/..", "RepoTags": [..], "Layers": [..]}]
//! oci-layout      {"imageLayoutVersion": "1.0.0"}
//! repositories    {"busybox": {"latest": "<hex of the top layer>"}}
//! ```
//!
//! The output is deterministic: entries sorted, fixed mtime, uid/gid 0, modes
//! 0755/0644. Every blob is checked against its digest as it streams out. This module
//! must never change a blob or re-encode a manifest: it copies bytes.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use oci_spec::image::Descriptor;
use serde::Serialize;

use super::BlobSource;
use super::resolve::{ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use crate::digest::{Digest, DigestReader};
use crate::error::{OciError, Result};
use crate::manifest::Manifest;
use crate::media_type::{self, OCI_INDEX};
use crate::platform::Platform;
use crate::reference::Reference;

/// One image to save: its manifest (an image manifest, not an index) and the names to
/// save it under (tagged names; names without a tag or with a digest are skipped, as
/// Docker skips them).
#[derive(Clone, Debug)]
pub struct ExportImage {
    pub manifest: Descriptor,
    pub names: Vec<Reference>,
}

/// Knobs for [`write_archive_with`].
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Modification time of every entry, seconds since the epoch (Docker uses 0).
    pub mtime: u64,
    /// The largest manifest or config read into memory.
    pub max_metadata_bytes: u64,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            mtime: 0,
            max_metadata_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Writes `images` as one archive to `out` with default options; returns `out`.
pub fn write_archive<W: Write>(
    out: W,
    images: &[ExportImage],
    source: &mut impl BlobSource,
) -> Result<W> {
    write_archive_with(out, images, source, &WriteOptions::default())
}

/// What is known about one image before writing.
struct Prepared {
    manifest: Descriptor,
    manifest_digest: Digest,
    config: Digest,
    layers: Vec<Digest>,
    platform: Option<Platform>,
    names: Vec<Reference>,
}

/// Writes `images` as one archive to `out`; returns `out`.
pub fn write_archive_with<W: Write>(
    out: W,
    images: &[ExportImage],
    source: &mut impl BlobSource,
    options: &WriteOptions,
) -> Result<W> {
    let mut blobs: BTreeMap<Digest, (u64, Option<Vec<u8>>)> = BTreeMap::new();
    let mut prepared = Vec::new();
    for image in images {
        prepared.push(prepare(image, source, options, &mut blobs)?);
    }

    let mut tar = TarWriter {
        builder: tar::Builder::new(out),
        mtime: options.mtime,
    };
    tar.dir("blobs/")?;
    tar.dir("blobs/sha256/")?;
    for (digest, (size, cached)) in &blobs {
        let path = format!("blobs/sha256/{}", digest.hex());
        match cached {
            Some(bytes) => tar.file(&path, bytes.len() as u64, &mut bytes.as_slice())?,
            None => {
                let (actual_size, reader) = source.open(digest)?;
                if actual_size != *size {
                    return Err(OciError::SizeMismatch {
                        what: format!("blob {digest} in the store"),
                        expected: *size,
                        actual: actual_size,
                    });
                }
                let mut hashing = DigestReader::new(reader.take(*size));
                tar.file(&path, *size, &mut hashing)?;
                let (_, actual, read) = hashing.finish();
                if read != *size {
                    return Err(OciError::SizeMismatch {
                        what: format!("blob {digest} read from the store"),
                        expected: *size,
                        actual: read,
                    });
                }
                if actual != *digest {
                    return Err(OciError::DigestMismatch {
                        what: format!("blob {digest} read from the store"),
                        expected: digest.to_string(),
                        actual: actual.to_string(),
                    });
                }
            }
        }
    }
    let index = serde_json::to_vec(&index_json(&prepared))?;
    tar.file("index.json", index.len() as u64, &mut index.as_slice())?;
    let mut manifest = serde_json::to_vec(&manifest_json(&prepared))?;
    manifest.push(b'\n');
    tar.file(
        "manifest.json",
        manifest.len() as u64,
        &mut manifest.as_slice(),
    )?;
    let layout = br#"{"imageLayoutVersion": "1.0.0"}"#;
    tar.file("oci-layout", layout.len() as u64, &mut layout.as_slice())?;
    let repositories = repositories_json(&prepared);
    if !repositories.is_empty() {
        let mut bytes = serde_json::to_vec(&repositories)?;
        bytes.push(b'\n');
        tar.file("repositories", bytes.len() as u64, &mut bytes.as_slice())?;
    }
    Ok(tar.builder.into_inner()?)
}

fn prepare(
    image: &ExportImage,
    source: &mut impl BlobSource,
    options: &WriteOptions,
    blobs: &mut BTreeMap<Digest, (u64, Option<Vec<u8>>)>,
) -> Result<Prepared> {
    let manifest_digest = Digest::from_oci(image.manifest.digest())?;
    let media_type = image.manifest.media_type().to_string();
    if !media_type::is_manifest(&media_type) {
        return Err(OciError::Export {
            reason: format!(
                "{manifest_digest} is a {media_type}, not an image manifest; choose one platform's manifest first"
            ),
        });
    }
    let manifest_bytes = read_small(source, &manifest_digest, image.manifest.size(), options)?;
    let Manifest::Image(manifest) = Manifest::parse(&manifest_bytes, Some(&media_type))? else {
        return Err(OciError::Export {
            reason: format!("{manifest_digest} is an index, not an image manifest"),
        });
    };
    let config = Digest::from_oci(manifest.config().digest())?;
    let config_bytes = read_small(source, &config, manifest.config().size(), options)?;
    let platform = super::resolve::platform_of_config(&config_bytes);
    add_blob(
        blobs,
        &manifest_digest,
        image.manifest.size(),
        Some(manifest_bytes),
    )?;
    add_blob(blobs, &config, manifest.config().size(), Some(config_bytes))?;
    let mut layers = Vec::new();
    for layer in manifest.layers() {
        let digest = Digest::from_oci(layer.digest())?;
        add_blob(blobs, &digest, layer.size(), None)?;
        layers.push(digest);
    }
    let mut names: Vec<Reference> = Vec::new();
    for name in &image.names {
        if name.tag().is_some() && name.digest().is_none() && !names.contains(name) {
            names.push(name.clone());
        }
    }
    Ok(Prepared {
        manifest: image.manifest.clone(),
        manifest_digest,
        config,
        layers,
        platform,
        names,
    })
}

fn add_blob(
    blobs: &mut BTreeMap<Digest, (u64, Option<Vec<u8>>)>,
    digest: &Digest,
    size: u64,
    bytes: Option<Vec<u8>>,
) -> Result<()> {
    match blobs.get_mut(digest) {
        Some((known, _)) if *known != size => Err(OciError::Export {
            reason: format!("blob {digest} is described with sizes {known} and {size}"),
        }),
        Some((_, cached)) => {
            if cached.is_none() {
                *cached = bytes;
            }
            Ok(())
        }
        None => {
            blobs.insert(digest.clone(), (size, bytes));
            Ok(())
        }
    }
}

/// Reads a manifest or config fully, checking size and digest.
fn read_small(
    source: &mut impl BlobSource,
    digest: &Digest,
    size: u64,
    options: &WriteOptions,
) -> Result<Vec<u8>> {
    if size > options.max_metadata_bytes {
        return Err(OciError::Export {
            reason: format!("{digest} is {size} bytes, more than a manifest or config may be"),
        });
    }
    let (_, reader) = source.open(digest)?;
    let mut bytes = Vec::with_capacity(size as usize);
    reader.take(size + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != size {
        return Err(OciError::SizeMismatch {
            what: format!("blob {digest} in the store"),
            expected: size,
            actual: bytes.len() as u64,
        });
    }
    let actual = Digest::of(&bytes);
    if actual != *digest {
        return Err(OciError::DigestMismatch {
            what: format!("blob {digest} in the store"),
            expected: digest.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(bytes)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexJson {
    schema_version: u32,
    media_type: &'static str,
    manifests: Vec<IndexEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexEntry {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<&'static str, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<PlatformJson>,
}

#[derive(Serialize)]
struct PlatformJson {
    architecture: String,
    os: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<String>,
}

fn index_json(images: &[Prepared]) -> IndexJson {
    let mut manifests = Vec::new();
    for image in images {
        let entry = |annotations| IndexEntry {
            media_type: image.manifest.media_type().to_string(),
            digest: image.manifest_digest.to_string(),
            size: image.manifest.size(),
            annotations,
            platform: image.platform.as_ref().map(|p| PlatformJson {
                architecture: p.architecture.clone(),
                os: p.os.clone(),
                variant: p.variant.clone(),
            }),
        };
        if image.names.is_empty() {
            manifests.push(entry(None));
        }
        for name in &image.names {
            let tag = name.tag().unwrap_or_default().to_owned();
            manifests.push(entry(Some(BTreeMap::from([
                (ANNOTATION_IMAGE_NAME, name.to_string()),
                (ANNOTATION_REF_NAME, tag),
            ]))));
        }
    }
    IndexJson {
        schema_version: 2,
        media_type: OCI_INDEX,
        manifests,
    }
}

#[derive(Serialize)]
struct ManifestItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

fn blob_path(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

fn manifest_json(images: &[Prepared]) -> Vec<ManifestItem> {
    images
        .iter()
        .map(|image| ManifestItem {
            config: blob_path(&image.config),
            repo_tags: (!image.names.is_empty())
                .then(|| image.names.iter().map(Reference::familiar).collect()),
            layers: image.layers.iter().map(blob_path).collect(),
        })
        .collect()
}

fn repositories_json(images: &[Prepared]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for image in images {
        let Some(top) = image.layers.last() else {
            continue;
        };
        for name in &image.names {
            repositories
                .entry(name.familiar_name())
                .or_default()
                .insert(
                    name.tag().unwrap_or_default().to_owned(),
                    top.hex().to_owned(),
                );
        }
    }
    repositories
}

struct TarWriter<W: Write> {
    builder: tar::Builder<W>,
    mtime: u64,
}

impl<W: Write> TarWriter<W> {
    fn header(
        &self,
        path: &str,
        size: u64,
        mode: u32,
        kind: tar::EntryType,
    ) -> Result<tar::Header> {
        let mut header = tar::Header::new_ustar();
        header.set_path(path)?;
        header.set_size(size);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(self.mtime);
        header.set_entry_type(kind);
        header.set_cksum();
        Ok(header)
    }

    fn dir(&mut self, path: &str) -> Result<()> {
        let header = self.header(path, 0, 0o755, tar::EntryType::Directory)?;
        self.builder.append(&header, std::io::empty())?;
        Ok(())
    }

    fn file(&mut self, path: &str, size: u64, data: &mut dyn Read) -> Result<()> {
        let header = self.header(path, size, 0o644, tar::EntryType::Regular)?;
        self.builder.append(&header, data)?;
        Ok(())
    }
}
