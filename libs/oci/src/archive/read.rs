//! Reading an image archive in one pass: blobs stream to a [`BlobSink`] as they come,
//! small metadata files are kept (bounded), and after the last entry the images are
//! resolved from `index.json` (OCI layout) and/or `manifest.json` (docker-archive).
//!
//! Entries may be regular files and directories only, with one exception Docker
//! forces: docker-archives saved by Docker before 25 link shared layers as
//! `<id>/layer.tar -> ../<other>/layer.tar`. Such symlinks are accepted only at legacy
//! layer/config paths and only when they resolve to a file inside the archive; any
//! other symlink, every hard link and every device node is refused. This module must
//! never write anywhere but the sink.

use std::collections::BTreeMap;
use std::io::{self, Read};

use oci_spec::image::Descriptor;

use super::BlobSink;
use super::paths::{self, PathKind};
use crate::digest::{Digest, DigestReader};
use crate::error::{OciError, Result};
use crate::media_type::Compression;
use crate::platform::Platform;
use crate::reference::Reference;
use berth_layer::tar::{MemberKind, TarReader};
use berth_layer::{Compression as TarCompression, LayerError, Limit, Limits};

/// Bounds on what an archive may make berth hold or do.
#[derive(Clone, Debug)]
pub struct ArchiveLimits {
    /// Tar entries, directories included.
    pub max_entries: usize,
    /// Each metadata file (`manifest.json`, `index.json`, ...) and each manifest.
    pub max_metadata_bytes: u64,
    /// All JSON blobs kept in memory to resolve manifests, together.
    pub max_retained_json_bytes: u64,
    /// Length of one entry path.
    pub max_path_bytes: usize,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_metadata_bytes: 16 * 1024 * 1024,
            max_retained_json_bytes: 64 * 1024 * 1024,
            max_path_bytes: 4096,
        }
    }
}

/// What an archive held.
#[derive(Clone, Debug, Default)]
pub struct ArchiveContents {
    /// Images in archive order: each manifest reachable from `index.json`, then each
    /// `manifest.json` entry not already found through `index.json`.
    pub images: Vec<ArchiveImage>,
    /// Indexes (multi-platform images) reachable from `index.json`.
    pub indexes: Vec<ArchiveIndex>,
    /// Every blob given to the sink, with its size.
    pub blobs: BTreeMap<Digest, u64>,
}

/// One image found in an archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveImage {
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    /// The manifest as stored in the archive (descriptor and exact bytes), or `None`
    /// for a legacy docker-archive image: then build one with
    /// [`legacy_manifest`](super::legacy_manifest).
    pub manifest: Option<(Descriptor, Vec<u8>)>,
    /// Names to tag the image with, normalised (`docker.io/library/busybox:latest`).
    /// From `io.containerd.image.name`, else `org.opencontainers.image.ref.name` when
    /// that is a full name (a bare tag names no repository and is ignored), else
    /// `RepoTags` of `manifest.json`.
    pub repo_tags: Vec<Reference>,
    /// The platform, from the index descriptor or the config, when known.
    pub platform: Option<Platform>,
    /// The index this manifest was reached through, for multi-platform archives.
    pub index: Option<Digest>,
}

/// A multi-platform index found in an archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveIndex {
    pub descriptor: Descriptor,
    pub bytes: Vec<u8>,
    pub repo_tags: Vec<Reference>,
    /// The enclosing index, for nested indexes.
    pub parent: Option<Digest>,
}

impl ArchiveContents {
    /// The images to load on `platform`, as `docker load` without the containerd
    /// store does it: top-level images as they are, and for each index only the
    /// manifest that best suits the platform, tagged with the index's names.
    pub fn images_for(&self, platform: &Platform) -> Vec<ArchiveImage> {
        let mut out: Vec<ArchiveImage> = self
            .images
            .iter()
            .filter(|i| i.index.is_none())
            .cloned()
            .collect();
        for index in self.indexes.iter().filter(|i| i.parent.is_none()) {
            let Ok(index_digest) = Digest::from_oci(index.descriptor.digest()) else {
                continue;
            };
            let best = self
                .images
                .iter()
                .filter(|i| self.reached_from(i, &index_digest))
                .filter_map(|i| Some((platform.match_rank(i.platform.as_ref()?)?, i)))
                .min_by_key(|(rank, _)| *rank);
            if let Some((_, image)) = best {
                let mut image = image.clone();
                image.repo_tags = index.repo_tags.clone();
                out.push(image);
            }
        }
        out
    }

    fn reached_from(&self, image: &ArchiveImage, index: &Digest) -> bool {
        let mut current = image.index.clone();
        while let Some(digest) = current {
            if digest == *index {
                return true;
            }
            current = self
                .indexes
                .iter()
                .find(|i| Digest::from_oci(i.descriptor.digest()).ok().as_ref() == Some(&digest))
                .and_then(|i| i.parent.clone());
        }
        false
    }
}

/// A blob seen in the archive.
#[derive(Debug)]
pub(super) struct SeenBlob {
    pub size: u64,
    pub compression: Compression,
    /// A copy of small JSON blobs (manifests, configs), to resolve images.
    pub json: Option<Vec<u8>>,
}

/// Everything the walk gathered, for [`super::resolve`].
#[derive(Debug, Default)]
pub(super) struct Walked {
    pub blobs: BTreeMap<Digest, SeenBlob>,
    /// Archive path -> digest of the file there.
    pub files: BTreeMap<String, Digest>,
    /// Legacy symlink path -> the archive path it points to.
    pub links: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, Vec<u8>>,
}

/// Reads an image archive from `reader`, streaming blobs into `sink`, and returns the
/// images it holds. On error, blobs already given to the sink stay there: the store
/// must treat them as unreferenced until the load commits.
pub fn read_archive<R: Read>(
    reader: R,
    sink: &mut impl BlobSink,
    limits: &ArchiveLimits,
) -> Result<ArchiveContents> {
    let mut walker = Walker {
        sink,
        limits,
        walked: Walked::default(),
        retained: 0,
    };
    let mut tar = TarReader::new(reader, tar_limits(limits), TarCompression::None);
    let mut entries = 0usize;
    while let Some(header) = tar.next_member().map_err(from_tar)? {
        entries += 1;
        if entries > limits.max_entries {
            return Err(OciError::limit(format!(
                "more than {} entries",
                limits.max_entries
            )));
        }
        let Some(path) = paths::clean(&header.path, limits.max_path_bytes)? else {
            continue;
        };
        match header.kind {
            MemberKind::Dir => {}
            MemberKind::File => walker.file(&path, header.size, &mut Content(&mut tar))?,
            MemberKind::Symlink => walker.symlink(&path, &header.link)?,
            MemberKind::Hardlink => {
                return Err(OciError::archive(format!(
                    "entry {path:?} is a hard link; image archives hold only regular files and directories"
                )));
            }
            other => {
                return Err(OciError::archive(format!(
                    "entry {path:?} has tar type {:?}; image archives hold only regular files and directories",
                    char::from(other.typeflag())
                )));
            }
        }
    }
    super::resolve::resolve(walker.walked, limits)
}

/// The tar reader's bounds for an image archive: its entry count and path length; no
/// bound on sizes, which the blob sink and the metadata limits check.
fn tar_limits(limits: &ArchiveLimits) -> Limits {
    Limits {
        max_entries: limits.max_entries as u64,
        max_total_bytes: u64::MAX,
        max_file_size: u64::MAX,
        max_path_len: limits.max_path_bytes,
        ..Limits::default()
    }
}

/// The tar reader's errors in the words of an image archive, not of a layer.
fn from_tar(e: LayerError) -> OciError {
    match e {
        LayerError::Truncated { detail } => {
            OciError::archive(format!("the archive is truncated: {detail}"))
        }
        LayerError::CorruptTar { offset, detail } => OciError::archive(format!(
            "not a valid tar archive at byte {offset}: {detail}"
        )),
        LayerError::LimitExceeded {
            limit: Limit::Entries,
            max,
            ..
        } => OciError::limit(format!("more than {max} entries")),
        LayerError::LimitExceeded {
            limit: Limit::PathLength,
            value,
            max,
            ..
        } => OciError::limit(format!("entry path of {value} bytes (the limit is {max})")),
        LayerError::LimitExceeded {
            limit, value, max, ..
        } => {
            let what = match limit {
                Limit::PaxHeaderSize => "tar extension header",
                Limit::XattrSize => "tar extended attribute",
                _ => "tar entry",
            };
            OciError::limit(format!("a {what} of {value} bytes (the limit is {max})"))
        }
        LayerError::Io { source, .. } => OciError::Io(source),
        other => OciError::archive(other.to_string()),
    }
}

/// The current entry's content as a reader; a truncated archive reads as an early end.
struct Content<'a, R>(&'a mut TarReader<R>);

impl<R: Read> Read for Content<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_content(buf).map_err(|e| match e {
            LayerError::Truncated { detail } => {
                io::Error::new(io::ErrorKind::UnexpectedEof, detail)
            }
            LayerError::Io { source, .. } => source,
            other => io::Error::other(other.to_string()),
        })
    }
}

/// Turns a content read's error into the archive error.
fn map_io(e: io::Error) -> OciError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        OciError::archive("the archive is truncated: an entry ends before its size")
    } else {
        OciError::Io(e)
    }
}

struct Walker<'a, S> {
    sink: &'a mut S,
    limits: &'a ArchiveLimits,
    walked: Walked,
    retained: u64,
}

impl<S: BlobSink> Walker<'_, S> {
    fn file(&mut self, path: &str, size: u64, data: &mut dyn Read) -> Result<()> {
        if self.walked.files.contains_key(path)
            || self.walked.metadata.contains_key(path)
            || self.walked.links.contains_key(path)
        {
            return Err(OciError::archive(format!(
                "entry {path:?} appears twice; refusing an ambiguous archive"
            )));
        }
        match paths::classify(path)? {
            PathKind::Metadata => {
                if size > self.limits.max_metadata_bytes {
                    return Err(OciError::limit(format!(
                        "{path} is {size} bytes (the limit is {})",
                        self.limits.max_metadata_bytes
                    )));
                }
                let mut bytes = Vec::with_capacity(size as usize);
                data.read_to_end(&mut bytes).map_err(map_io)?;
                self.walked.metadata.insert(path.to_owned(), bytes);
            }
            PathKind::Blob(digest) => {
                let actual = self.blob(path, Some(&digest), size, data)?;
                self.walked.files.insert(path.to_owned(), actual);
            }
            PathKind::LegacyBlob => {
                let actual = self.blob(path, None, size, data)?;
                self.walked.files.insert(path.to_owned(), actual);
            }
            PathKind::Skip => {
                io::copy(data, &mut io::sink()).map_err(map_io)?;
            }
        }
        Ok(())
    }

    fn blob(
        &mut self,
        path: &str,
        expected: Option<&Digest>,
        size: u64,
        data: &mut dyn Read,
    ) -> Result<Digest> {
        let mut head = Vec::with_capacity(4);
        (&mut *data)
            .take(4)
            .read_to_end(&mut head)
            .map_err(map_io)?;
        let compression = Compression::sniff(&head);
        let looks_json = head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let keep = looks_json
            && size <= self.limits.max_metadata_bytes
            && self.retained + size <= self.limits.max_retained_json_bytes;
        let mut tee = Tee {
            inner: DigestReader::new(io::Cursor::new(head).chain(data)),
            copy: keep.then(Vec::new),
        };
        let from_sink = self
            .sink
            .put_blob(expected, size, &mut tee)
            .map_err(|e| match e {
                OciError::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => map_io(io),
                other => other,
            })?;
        io::copy(&mut tee, &mut io::sink()).map_err(map_io)?;
        let Tee { inner, copy } = tee;
        let (_, actual, read) = inner.finish();
        if read != size {
            return Err(OciError::archive(format!(
                "{path} holds {read} bytes but its header says {size}"
            )));
        }
        if let Some(expected) = expected.filter(|e| **e != actual) {
            return Err(OciError::DigestMismatch {
                what: format!("archive entry {path}"),
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        if from_sink != actual {
            return Err(OciError::DigestMismatch {
                what: format!("archive entry {path} as stored by the sink"),
                expected: actual.to_string(),
                actual: from_sink.to_string(),
            });
        }
        if let Some(copy) = &copy {
            self.retained += copy.len() as u64;
        }
        let seen = self.walked.blobs.entry(actual.clone()).or_insert(SeenBlob {
            size,
            compression,
            json: None,
        });
        if seen.json.is_none() {
            seen.json = copy;
        }
        Ok(actual)
    }

    fn symlink(&mut self, path: &str, target: &[u8]) -> Result<()> {
        if paths::classify(path)? != PathKind::LegacyBlob {
            return Err(OciError::archive(format!(
                "entry {path:?} is a symlink; image archives hold only regular files and directories \
                 (Docker's shared-layer links <id>/layer.tar -> ../<id>/layer.tar excepted)"
            )));
        }
        let resolved = paths::resolve_link(path, target, self.limits.max_path_bytes)?;
        if self
            .walked
            .links
            .insert(path.to_owned(), resolved)
            .is_some()
            || self.walked.files.contains_key(path)
        {
            return Err(OciError::archive(format!(
                "entry {path:?} appears twice; refusing an ambiguous archive"
            )));
        }
        Ok(())
    }
}

/// Copies what is read into `copy` (when keeping it) on the way through.
struct Tee<R> {
    inner: R,
    copy: Option<Vec<u8>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(copy) = &mut self.copy {
            copy.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}
