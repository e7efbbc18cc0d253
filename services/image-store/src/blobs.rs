//! Content-addressed blob files: `blobs/sha256/<hex>`, each visible only once its bytes are
//! verified. Writes land in `ingest/<upload>/data`, are hashed as they arrive, fsynced and
//! renamed into place; a crash leaves at most an ingest file that GC later removes.
//!
//! This module never decides what a blob is for or whether it may be deleted: that is
//! the metadata's and GC's business.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use berth_oci::Digest;
use sha2::{Digest as _, Sha256};

use crate::error::StoreError;

/// Where blobs live on disk.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// Size and age of a stored blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobInfo {
    pub size: u64,
    pub created: SystemTime,
}

impl BlobStore {
    /// Opens (creating when needed) the blob directories under `root`.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        for dir in ["blobs/sha256", "ingest"] {
            fs::create_dir_all(root.join(dir)).map_err(|e| StoreError::io(root.join(dir), e))?;
        }
        let store = BlobStore {
            root: root.to_owned(),
        };
        store.remove_private_ingests()?;
        Ok(store)
    }

    /// Removes the private uploads (`docker load`, `import`, manifests) a previous process
    /// left: only the writer that made one holds its handle, and that writer died with
    /// its process, so none of them can ever complete. Named uploads stay: their writers
    /// live in other processes (registry-proxy, builders) and resume them by name after
    /// this store restarts, so only the age-based GC may take those.
    fn remove_private_ingests(&self) -> Result<u64, StoreError> {
        let dir = self.root.join("ingest");
        let mut removed = 0;
        for entry in fs::read_dir(&dir).map_err(|e| StoreError::io(dir.clone(), e))? {
            let Ok(entry) = entry else { continue };
            let private = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("tmp-"));
            if private && fs::remove_dir_all(entry.path()).is_ok() {
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(removed, "partial uploads of a previous run removed");
        }
        Ok(removed)
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub fn stat(&self, digest: &Digest) -> Result<Option<BlobInfo>, StoreError> {
        let path = self.path(digest);
        match fs::metadata(&path) {
            Ok(m) => Ok(Some(BlobInfo {
                size: m.len(),
                created: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Opens a blob for reading from `offset`.
    pub fn open_read(&self, digest: &Digest, offset: u64) -> Result<(File, u64), StoreError> {
        let path = self.path(digest);
        let mut file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::BlobNotFound(digest.clone()),
            _ => StoreError::io(path.clone(), e),
        })?;
        let size = file
            .metadata()
            .map_err(|e| StoreError::io(path.clone(), e))?
            .len();
        if offset > size {
            return Err(StoreError::InvalidArgument(format!(
                "offset {offset} is past the end of blob {digest} ({size} bytes)"
            )));
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| StoreError::io(path, e))?;
        Ok((file, size))
    }

    /// Reads a whole (small) blob: manifests and configs.
    pub fn read_all(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>, StoreError> {
        let (file, size) = self.open_read(digest, 0)?;
        if size > limit {
            return Err(StoreError::InvalidArgument(format!(
                "blob {digest} is {size} bytes, more than the {limit} allowed for metadata"
            )));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| StoreError::io(self.path(digest), e))?;
        Ok(bytes)
    }

    /// Starts or resumes an upload. `upload_id` names a resumable upload; `None` makes a
    /// private one that is removed if not committed.
    pub fn ingest(&self, upload_id: Option<&str>) -> Result<Ingest, StoreError> {
        let (name, resumable) = match upload_id {
            Some(id) => (sanitize(id)?, true),
            None => (format!("tmp-{}", uuid::Uuid::new_v4().simple()), false),
        };
        let dir = self.root.join("ingest").join(name);
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(dir.clone(), e))?;
        let path = dir.join("data");
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::io(path.clone(), e))?;
        // Resuming: the digest covers every byte, so hash what is already there.
        let mut hasher = Sha256::new();
        file.seek(SeekFrom::Start(0))
            .map_err(|e| StoreError::io(path.clone(), e))?;
        let written = io::copy(&mut file, &mut HashWriter(&mut hasher))
            .map_err(|e| StoreError::io(path.clone(), e))?;
        Ok(Ingest {
            store: self.clone(),
            dir,
            file,
            hasher,
            written,
            resumable,
            done: false,
        })
    }

    /// How many bytes a resumable upload holds.
    pub fn upload_offset(&self, upload_id: &str) -> Result<Option<u64>, StoreError> {
        let path = self
            .root
            .join("ingest")
            .join(sanitize(upload_id)?)
            .join("data");
        match fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    /// Stores small in-memory content (manifests, configs) in one step.
    pub fn put_bytes(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest, StoreError> {
        let mut ingest = self.ingest(None)?;
        ingest
            .write_all(bytes)
            .map_err(|e| StoreError::io(ingest.dir.clone(), e))?;
        Ok(ingest.commit(expected, Some(bytes.len() as u64))?.0)
    }

    /// Deletes a blob; a missing blob is not an error.
    pub fn delete(&self, digest: &Digest) -> Result<u64, StoreError> {
        let path = self.path(digest);
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        match fs::remove_file(&path) {
            Ok(()) => Ok(size),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    /// Every stored blob, for GC.
    pub fn list(&self) -> Result<Vec<Digest>, StoreError> {
        let dir = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| StoreError::io(dir.clone(), e))? {
            let entry = entry.map_err(|e| StoreError::io(dir.clone(), e))?;
            if let Some(name) = entry.file_name().to_str()
                && let Ok(d) = format!("sha256:{name}").parse::<Digest>()
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Removes uploads untouched for `older_than`: what a crashed or vanished writer left.
    pub fn remove_stale_ingests(&self, older_than: std::time::Duration) -> Result<u64, StoreError> {
        let dir = self.root.join("ingest");
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in fs::read_dir(&dir).map_err(|e| StoreError::io(dir.clone(), e))? {
            let Ok(entry) = entry else { continue };
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default();
            if age >= older_than && fs::remove_dir_all(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Upload names become directory names: keep them to one safe path component.
fn sanitize(upload_id: &str) -> Result<String, StoreError> {
    let ok = !upload_id.is_empty()
        && upload_id.len() <= 200
        && upload_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        && upload_id != "."
        && upload_id != "..";
    if ok {
        Ok(format!("u-{}", upload_id.replace(':', "_")))
    } else {
        Err(StoreError::InvalidArgument(format!(
            "invalid upload id {upload_id:?}: use up to 200 letters, digits, '-', '_', '.', ':'"
        )))
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An upload in progress. Bytes written are hashed on the way; [`Ingest::commit`] makes
/// the blob visible only if they match what was promised.
#[derive(Debug)]
pub struct Ingest {
    store: BlobStore,
    dir: PathBuf,
    file: File,
    hasher: Sha256,
    written: u64,
    resumable: bool,
    done: bool,
}

impl Ingest {
    /// Bytes received so far (including those of an earlier attempt).
    pub fn offset(&self) -> u64 {
        self.written
    }

    /// Verifies and publishes the blob. Returns its digest, and whether the store already
    /// had it (then these bytes are dropped).
    pub fn commit(
        mut self,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<(Digest, bool), StoreError> {
        self.done = true;
        let hex = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let digest: Digest = format!("sha256:{hex}")
            .parse()
            .map_err(|e| StoreError::InvalidArgument(format!("{e}")))?;
        let result = self.publish(&digest, expected, expected_size);
        // Whatever happened, this upload is over: its bytes are published or rejected.
        let _ = fs::remove_dir_all(&self.dir);
        result.map(|existed| (digest, existed))
    }

    fn publish(
        &mut self,
        digest: &Digest,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<bool, StoreError> {
        if let Some(size) = expected_size
            && size != self.written
        {
            return Err(StoreError::SizeMismatch {
                expected: size,
                actual: self.written,
            });
        }
        if let Some(want) = expected
            && want != digest
        {
            return Err(StoreError::DigestMismatch {
                expected: want.clone(),
                actual: digest.clone(),
            });
        }
        let target = self.store.path(digest);
        if target.is_file() {
            return Ok(true);
        }
        let data = self.dir.join("data");
        self.file
            .sync_all()
            .map_err(|e| StoreError::io(data.clone(), e))?;
        // rename(2) is atomic: readers see no file or the whole verified file. Two writers
        // of the same blob both rename identical bytes; the last one wins, harmlessly.
        fs::rename(&data, &target).map_err(|e| StoreError::io(target.clone(), e))?;
        if let Some(parent) = target.parent() {
            File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(|e| StoreError::io(parent.to_owned(), e))?;
        }
        Ok(false)
    }
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        // An abandoned private upload can never be resumed: remove it now. A named one
        // stays for its writer to resume, until GC finds it stale.
        if !self.done && !self.resumable {
            let _ = fs::remove_dir_all(&self.dir);
        }
        if !self.done && self.resumable {
            let _ = self.file.sync_data();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn digest(bytes: &[u8]) -> Digest {
        Digest::of(bytes)
    }

    #[test]
    fn a_blob_is_visible_only_after_its_digest_checks_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let good = digest(b"hello");

        let mut ingest = store.ingest(None).unwrap();
        ingest.write_all(b"hellO").unwrap();
        assert!(!store.contains(&good), "nothing visible while writing");
        let err = ingest.commit(Some(&good), Some(5)).unwrap_err();
        assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
        assert!(!store.contains(&good));
        assert_eq!(
            fs::read_dir(dir.path().join("ingest")).unwrap().count(),
            0,
            "the rejected upload is gone"
        );

        let mut ingest = store.ingest(None).unwrap();
        ingest.write_all(b"hell").unwrap();
        let err = ingest.commit(Some(&good), Some(5)).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::SizeMismatch {
                    expected: 5,
                    actual: 4
                }
            ),
            "{err}"
        );

        assert_eq!(store.put_bytes(b"hello", Some(&good)).unwrap(), good);
        assert_eq!(fs::read(store.path(&good)).unwrap(), b"hello");
        assert_eq!(
            store.put_bytes(b"hello", None).unwrap(),
            good,
            "writing it again is harmless"
        );
    }

    #[test]
    fn an_upload_resumes_where_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let whole = b"0123456789".repeat(1000);
        let want = digest(&whole);
        {
            let mut first = store.ingest(Some("pull-x")).unwrap();
            first.write_all(&whole[..4000]).unwrap();
            // The writer vanishes here.
        }
        assert_eq!(store.upload_offset("pull-x").unwrap(), Some(4000));
        let mut second = store.ingest(Some("pull-x")).unwrap();
        assert_eq!(second.offset(), 4000);
        second.write_all(&whole[4000..]).unwrap();
        assert_eq!(
            second
                .commit(Some(&want), Some(whole.len() as u64))
                .unwrap(),
            (want.clone(), false)
        );
        assert_eq!(fs::read(store.path(&want)).unwrap(), whole);
        assert_eq!(store.upload_offset("pull-x").unwrap(), None);
    }

    #[test]
    fn two_writers_of_one_blob_end_with_one_whole_copy() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let data = vec![7u8; 3 << 20];
        let want = digest(&data);
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let (store, data, want) = (store.clone(), data.clone(), want.clone());
                std::thread::spawn(move || {
                    let mut ingest = store.ingest(None).unwrap();
                    for chunk in data.chunks(64 << 10) {
                        ingest.write_all(chunk).unwrap();
                    }
                    ingest
                        .commit(Some(&want), Some(data.len() as u64))
                        .unwrap()
                        .0
                })
            })
            .collect();
        for w in writers {
            assert_eq!(w.join().unwrap(), want);
        }
        assert_eq!(fs::read(store.path(&want)).unwrap(), data);
        assert_eq!(store.list().unwrap(), vec![want]);
        assert_eq!(fs::read_dir(dir.path().join("ingest")).unwrap().count(), 0);
    }

    #[test]
    fn a_restart_drops_private_uploads_and_keeps_named_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut private = store.ingest(None).unwrap();
        private.write_all(b"half a layer").unwrap();
        let mut named = store.ingest(Some("pull-y")).unwrap();
        named.write_all(b"resumable").unwrap();
        // The process dies: no drop, no commit.
        std::mem::forget(private);
        std::mem::forget(named);
        let ingest_dir = dir.path().join("ingest");
        assert_eq!(std::fs::read_dir(&ingest_dir).unwrap().count(), 2);
        let store = BlobStore::open(dir.path()).unwrap();
        let left: Vec<String> = std::fs::read_dir(&ingest_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, vec!["u-pull-y".to_owned()]);
        assert_eq!(store.upload_offset("pull-y").unwrap(), Some(9));
    }

    #[test]
    fn upload_ids_cannot_name_paths() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        for bad in ["../x", "a/b", "", ".."] {
            assert!(store.ingest(Some(bad)).is_err(), "{bad:?}");
        }
    }
}
