//! Turning what an archive walk gathered into images: follow `index.json` (nested
//! indexes included) and `manifest.json`, check every referenced blob is there, and
//! collect names.
//!
//! This module must never read the archive again or trust a reference in it: every
//! path and digest a document names is looked up among the blobs actually seen.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::image::{Descriptor, ImageIndex, MediaType};
use serde::Deserialize;

use super::paths::{INDEX_JSON, MANIFEST_JSON, OCI_LAYOUT, REPOSITORIES};
use super::read::{ArchiveContents, ArchiveImage, ArchiveIndex, ArchiveLimits, SeenBlob, Walked};
use crate::digest::Digest;
use crate::error::{OciError, Result};
use crate::manifest::Manifest;
use crate::media_type::{self, DOCKER_CONFIG, OCI_INDEX};
use crate::platform::Platform;
use crate::reference::Reference;

/// containerd's annotation with the full image name.
pub(crate) const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// The OCI annotation with a reference name (often only a tag).
pub(crate) const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// How deep indexes may nest.
const MAX_INDEX_DEPTH: usize = 4;
/// Symlink hops followed for one legacy path.
const MAX_LINK_HOPS: usize = 8;

pub(super) fn resolve(walked: Walked, limits: &ArchiveLimits) -> Result<ArchiveContents> {
    let mut contents = ArchiveContents {
        blobs: walked
            .blobs
            .iter()
            .map(|(d, b)| (d.clone(), b.size))
            .collect(),
        ..ArchiveContents::default()
    };
    if let Some(layout) = walked.metadata.get(OCI_LAYOUT) {
        check_layout(layout)?;
    }
    let index = walked.metadata.get(INDEX_JSON);
    let manifest = walked.metadata.get(MANIFEST_JSON);
    if index.is_none() && manifest.is_none() {
        let hint = if walked.metadata.contains_key(REPOSITORIES) {
            "it looks like a pre-1.10 Docker archive, which berth cannot load; save it again with a newer docker"
        } else {
            "it has neither index.json nor manifest.json; make one with docker save or skopeo copy ... oci-archive:FILE"
        };
        return Err(OciError::archive(format!("not an image archive: {hint}")));
    }
    if let Some(bytes) = index {
        let mut oci = OciResolver {
            walked: &walked,
            limits,
            contents: &mut contents,
        };
        oci.index_json(bytes)?;
    }
    if let Some(bytes) = manifest {
        legacy_images(&walked, bytes, &mut contents)?;
    }
    Ok(contents)
}

fn check_layout(bytes: &[u8]) -> Result<()> {
    #[derive(Deserialize)]
    struct Layout {
        #[serde(rename = "imageLayoutVersion")]
        version: String,
    }
    let layout: Layout = serde_json::from_slice(bytes)
        .map_err(|e| OciError::archive(format!("oci-layout is not valid: {e}")))?;
    if layout.version != "1.0.0" {
        return Err(OciError::archive(format!(
            "OCI layout version {:?} is not supported (berth reads 1.0.0)",
            layout.version
        )));
    }
    Ok(())
}

struct OciResolver<'a> {
    walked: &'a Walked,
    limits: &'a ArchiveLimits,
    contents: &'a mut ArchiveContents,
}

impl OciResolver<'_> {
    fn index_json(&mut self, bytes: &[u8]) -> Result<()> {
        let index = match Manifest::parse(bytes, Some(OCI_INDEX))? {
            Manifest::Index(index) => index,
            Manifest::Image(_) => {
                return Err(OciError::archive(
                    "index.json holds a manifest, not an index",
                ));
            }
        };
        for descriptor in index.manifests() {
            let names = names_from_annotations(descriptor)?;
            self.visit(descriptor, names, None, 0)?;
        }
        Ok(())
    }

    fn visit(
        &mut self,
        descriptor: &Descriptor,
        names: Vec<Reference>,
        parent: Option<&Digest>,
        depth: usize,
    ) -> Result<()> {
        let digest = Digest::from_oci(descriptor.digest())?;
        let Some(blob) = self.walked.blobs.get(&digest) else {
            if parent.is_some() {
                // Multi-platform archives often carry only some platforms.
                return Ok(());
            }
            return Err(OciError::MissingBlob {
                digest: digest.to_string(),
                what: "manifest listed in index.json".into(),
            });
        };
        let bytes = self.document(&digest, blob, descriptor.size())?;
        let media_type = descriptor.media_type().to_string();
        match Manifest::parse(&bytes, Some(&media_type))? {
            Manifest::Index(index) => {
                if depth >= MAX_INDEX_DEPTH {
                    return Err(OciError::archive(format!(
                        "indexes nest more than {MAX_INDEX_DEPTH} deep"
                    )));
                }
                self.add_index(descriptor, &digest, bytes, names, parent, &index, depth)
            }
            Manifest::Image(manifest) => {
                for layer in manifest.layers() {
                    let layer_digest = Digest::from_oci(layer.digest())?;
                    let foreign = media_type::is_foreign_layer(layer.media_type().as_ref())
                        || layer.urls().as_ref().is_some_and(|u| !u.is_empty());
                    if !foreign {
                        self.require(
                            &layer_digest,
                            layer.size(),
                            &format!("layer of manifest {digest}"),
                        )?;
                    }
                }
                let config_digest = Digest::from_oci(manifest.config().digest())?;
                let config_blob = self.require(
                    &config_digest,
                    manifest.config().size(),
                    &format!("config of manifest {digest}"),
                )?;
                let platform = descriptor
                    .platform()
                    .as_ref()
                    .map(Platform::from_oci)
                    .or_else(|| config_blob.json.as_deref().and_then(platform_of_config));
                self.add_image(ArchiveImage {
                    config: manifest.config().clone(),
                    layers: manifest.layers().clone(),
                    manifest: Some((descriptor.clone(), bytes)),
                    repo_tags: names,
                    platform,
                    index: parent.cloned(),
                });
                Ok(())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_index(
        &mut self,
        descriptor: &Descriptor,
        digest: &Digest,
        bytes: Vec<u8>,
        names: Vec<Reference>,
        parent: Option<&Digest>,
        index: &ImageIndex,
        depth: usize,
    ) -> Result<()> {
        let existing = self.contents.indexes.iter_mut().find(|i| {
            Digest::from_oci(i.descriptor.digest()).ok().as_ref() == Some(digest)
                && i.parent.as_ref() == parent
        });
        if let Some(existing) = existing {
            merge_names(&mut existing.repo_tags, names);
            return Ok(());
        }
        self.contents.indexes.push(ArchiveIndex {
            descriptor: descriptor.clone(),
            bytes,
            repo_tags: names,
            parent: parent.cloned(),
        });
        for child in index.manifests() {
            self.visit(child, Vec::new(), Some(digest), depth + 1)?;
        }
        Ok(())
    }

    fn add_image(&mut self, image: ArchiveImage) {
        let same = |a: &ArchiveImage| {
            a.index == image.index
                && a.manifest.as_ref().map(|m| m.0.digest())
                    == image.manifest.as_ref().map(|m| m.0.digest())
        };
        match self.contents.images.iter_mut().find(|a| same(a)) {
            Some(existing) => merge_names(&mut existing.repo_tags, image.repo_tags),
            None => self.contents.images.push(image),
        }
    }

    /// The kept bytes of a manifest or index blob, size-checked.
    fn document(&self, digest: &Digest, blob: &SeenBlob, size: u64) -> Result<Vec<u8>> {
        if blob.size != size {
            return Err(OciError::SizeMismatch {
                what: format!("manifest {digest}"),
                expected: size,
                actual: blob.size,
            });
        }
        blob.json.clone().ok_or_else(|| {
            OciError::limit(format!(
                "manifest {digest} is not JSON or is larger than {} bytes",
                self.limits.max_metadata_bytes
            ))
        })
    }

    fn require(&self, digest: &Digest, size: u64, what: &str) -> Result<&SeenBlob> {
        let blob = self
            .walked
            .blobs
            .get(digest)
            .ok_or_else(|| OciError::MissingBlob {
                digest: digest.to_string(),
                what: what.to_owned(),
            })?;
        if blob.size != size {
            return Err(OciError::SizeMismatch {
                what: format!("{what} {digest}"),
                expected: size,
                actual: blob.size,
            });
        }
        Ok(blob)
    }
}

fn merge_names(into: &mut Vec<Reference>, names: Vec<Reference>) {
    for name in names {
        if !into.contains(&name) {
            into.push(name);
        }
    }
}

/// Names from an index descriptor's annotations: containerd's full name, else the OCI
/// ref name when it is a full reference (a bare tag such as `latest` names nothing).
fn names_from_annotations(descriptor: &Descriptor) -> Result<Vec<Reference>> {
    let Some(annotations) = descriptor.annotations() else {
        return Ok(Vec::new());
    };
    let parse = |name: &str, key: &str| {
        Reference::parse_named(name).map_err(|e| {
            OciError::archive(format!("index.json names an image {name:?} ({key}): {e}"))
        })
    };
    if let Some(name) = annotations.get(ANNOTATION_IMAGE_NAME) {
        return Ok(vec![parse(name, ANNOTATION_IMAGE_NAME)?]);
    }
    match annotations.get(ANNOTATION_REF_NAME) {
        Some(name) if name.contains(['/', ':', '@']) => Ok(vec![parse(name, ANNOTATION_REF_NAME)?]),
        _ => Ok(Vec::new()),
    }
}

pub(super) fn platform_of_config(bytes: &[u8]) -> Option<Platform> {
    #[derive(Deserialize)]
    struct Probe {
        os: Option<String>,
        architecture: Option<String>,
        variant: Option<String>,
    }
    let p: Probe = serde_json::from_slice(bytes).ok()?;
    Some(Platform {
        os: p.os?,
        architecture: p.architecture?,
        variant: p.variant.filter(|v| !v.is_empty()),
    })
}

/// One entry of a docker-archive `manifest.json`.
#[derive(Deserialize)]
struct LegacyEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
    /// Foreign layers, by diff ID, that are not in the archive.
    #[serde(rename = "LayerSources", default)]
    layer_sources: Option<BTreeMap<String, Descriptor>>,
}

fn legacy_images(walked: &Walked, bytes: &[u8], contents: &mut ArchiveContents) -> Result<()> {
    let entries: Vec<LegacyEntry> = serde_json::from_slice(bytes)
        .map_err(|e| OciError::archive(format!("manifest.json is not valid: {e}")))?;
    let known_configs: BTreeSet<Digest> = contents
        .images
        .iter()
        .filter_map(|i| Digest::from_oci(i.config.digest()).ok())
        .collect();
    for entry in entries {
        let config_digest = lookup(walked, &entry.config)?;
        let mut repo_tags = Vec::new();
        for tag in entry.repo_tags.unwrap_or_default() {
            repo_tags.push(Reference::parse(&tag).map_err(|e| {
                OciError::archive(format!("manifest.json has an invalid RepoTag {tag:?}: {e}"))
            })?);
        }
        if known_configs.contains(&config_digest) {
            // Already loaded through index.json; keep names only it knew about.
            for image in contents.images.iter_mut().filter(|i| {
                i.index.is_none()
                    && Digest::from_oci(i.config.digest()).ok().as_ref() == Some(&config_digest)
            }) {
                if image.repo_tags.is_empty() {
                    merge_names(&mut image.repo_tags, repo_tags.clone());
                }
            }
            continue;
        }
        let config_blob = &walked.blobs[&config_digest];
        let mut layers = Vec::new();
        for path in &entry.layers {
            layers.push(legacy_layer(walked, path, entry.layer_sources.as_ref())?);
        }
        contents.images.push(ArchiveImage {
            config: Descriptor::new(
                MediaType::from(DOCKER_CONFIG),
                config_blob.size,
                config_digest.to_oci(),
            ),
            layers,
            manifest: None,
            repo_tags,
            platform: config_blob.json.as_deref().and_then(platform_of_config),
            index: None,
        });
    }
    Ok(())
}

fn legacy_layer(
    walked: &Walked,
    path: &str,
    sources: Option<&BTreeMap<String, Descriptor>>,
) -> Result<Descriptor> {
    match lookup(walked, path) {
        Ok(digest) => {
            let blob = &walked.blobs[&digest];
            let media_type = blob.compression.docker_layer_media_type();
            Ok(Descriptor::new(
                MediaType::from(media_type),
                blob.size,
                digest.to_oci(),
            ))
        }
        Err(missing) => {
            // A foreign layer: manifest.json names it by diff ID, LayerSources says where it lives.
            let diff_id = path
                .strip_prefix("blobs/sha256/")
                .map(|hex| format!("sha256:{hex}"));
            diff_id
                .and_then(|id| sources?.get(&id).cloned())
                .ok_or(missing)
        }
    }
}

/// The digest of the file at `path`, following Docker's shared-layer symlinks.
fn lookup(walked: &Walked, path: &str) -> Result<Digest> {
    let clean = super::paths::clean(path.as_bytes(), usize::MAX)?
        .ok_or_else(|| OciError::archive("manifest.json names an empty path"))?;
    let mut current = clean;
    for _ in 0..=MAX_LINK_HOPS {
        if let Some(digest) = walked.files.get(&current) {
            return Ok(digest.clone());
        }
        match walked.links.get(&current) {
            Some(target) => current = target.clone(),
            None => {
                return Err(OciError::archive(format!(
                    "manifest.json refers to {path:?}, which is not in the archive"
                )));
            }
        }
    }
    Err(OciError::archive(format!(
        "{path:?} is a chain of more than {MAX_LINK_HOPS} symlinks"
    )))
}
