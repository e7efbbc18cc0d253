//! Shared helpers for the layer codec's integration tests: archive builders (including
//! raw, hostile headers), tree snapshots for comparison, canaries that prove nothing
//! outside a target changed, and an overlay mount guard.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds tar archives member by member with the `tar` crate's low-level header API.
/// Names are written raw into the header bytes, so `..` and absolute paths survive.
#[derive(Default)]
pub struct TarBuilder {
    out: Vec<u8>,
}

pub struct Entry<'a> {
    pub name: &'a [u8],
    pub kind: tar::EntryType,
    pub link: &'a [u8],
    pub content: &'a [u8],
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub dev: (u32, u32),
}

impl<'a> Entry<'a> {
    pub fn new(name: &'a str, kind: tar::EntryType) -> Self {
        Entry {
            name: name.as_bytes(),
            kind,
            link: b"",
            content: b"",
            mode: if kind == tar::EntryType::Directory {
                0o755
            } else {
                0o644
            },
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            dev: (0, 0),
        }
    }
}

impl TarBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn entry(&mut self, e: Entry<'_>) -> &mut Self {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(e.kind);
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        h.set_mtime(e.mtime);
        h.set_size(e.content.len() as u64);
        if matches!(e.kind, tar::EntryType::Char | tar::EntryType::Block) {
            h.set_device_major(e.dev.0).unwrap();
            h.set_device_minor(e.dev.1).unwrap();
        }
        {
            let ustar = h.as_ustar_mut().unwrap();
            assert!(e.name.len() <= 100, "use a PAX path for long names");
            ustar.name = [0; 100];
            ustar.name[..e.name.len()].copy_from_slice(e.name);
            ustar.linkname = [0; 100];
            ustar.linkname[..e.link.len()].copy_from_slice(e.link);
        }
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(e.content);
        pad(&mut self.out);
        self
    }

    pub fn file(&mut self, name: &str, content: &[u8]) -> &mut Self {
        self.entry(Entry {
            content,
            ..Entry::new(name, tar::EntryType::Regular)
        })
    }

    pub fn dir(&mut self, name: &str) -> &mut Self {
        self.entry(Entry::new(name, tar::EntryType::Directory))
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(Entry {
            link: target.as_bytes(),
            ..Entry::new(name, tar::EntryType::Symlink)
        })
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(Entry {
            link: target.as_bytes(),
            ..Entry::new(name, tar::EntryType::Link)
        })
    }

    /// A PAX extended header (`x`) with the given records, for the next member.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut body = Vec::new();
        for (key, value) in records {
            let base = key.len() + value.len() + 3;
            let mut len = base + base.to_string().len();
            if len.to_string().len() != base.to_string().len() {
                len = base + len.to_string().len();
            }
            body.extend_from_slice(format!("{len} {key}=").as_bytes());
            body.extend_from_slice(value);
            body.push(b'\n');
        }
        self.entry(Entry {
            content: &body,
            ..Entry::new("PaxHeaders/x", tar::EntryType::XHeader)
        })
    }

    /// Raw bytes appended as they are (for corrupt headers).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.out.extend_from_slice(bytes);
        self
    }

    /// The archive with its end-of-archive marker.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        out.extend_from_slice(&[0u8; 1024]);
        out
    }
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % 512;
    if rem != 0 {
        out.resize(out.len() + 512 - rem, 0);
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// zstd with a content checksum, as berth writes it.
pub fn zstd(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    enc.include_checksum(true).unwrap();
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// What we know about one file, for comparing trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub content: Vec<u8>,
    pub rdev: u64,
    pub xattrs: BTreeMap<String, Vec<u8>>,
    /// Index of the first path sharing this inode (hard links), if any.
    pub link_group: Option<String>,
}

/// Snapshot of a tree below `root` (not `root` itself): relative path -> state.
pub fn snapshot(root: &Path) -> BTreeMap<String, FileState> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut paths = Vec::new();
    collect(root, &mut paths);
    paths.sort();
    for path in paths {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let meta = fs::symlink_metadata(&path).unwrap();
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else if ft.is_fifo() {
            "fifo"
        } else {
            "other"
        };
        let content = if ft.is_file() {
            fs::read(&path).unwrap()
        } else if ft.is_symlink() {
            fs::read_link(&path)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes()
        } else {
            Vec::new()
        };
        let mut xattrs = BTreeMap::new();
        if let Ok(names) = xattr::list(&path) {
            for name in names {
                if let Ok(Some(value)) = xattr::get(&path, &name) {
                    xattrs.insert(name.to_string_lossy().into_owned(), value);
                }
            }
        }
        let link_group = if ft.is_file() && meta.nlink() > 1 {
            Some(
                inodes
                    .entry((meta.dev(), meta.ino()))
                    .or_insert(rel.clone())
                    .clone(),
            )
        } else {
            None
        };
        out.insert(
            rel,
            FileState {
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                mtime: meta.mtime(),
                content,
                rdev: meta.rdev(),
                xattrs,
                link_group,
            },
        );
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let is_dir = fs::symlink_metadata(&path).unwrap().is_dir();
        out.push(path.clone());
        if is_dir {
            collect(&path, out);
        }
    }
}

/// A sandbox: a temp dir holding `target` (not created) and a `canary` directory with
/// content, plus a snapshot of the canary (and of the sandbox listing) to prove that
/// nothing outside the target changed.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub target: PathBuf,
    pub canary: PathBuf,
    before: BTreeMap<String, FileState>,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let canary = dir.path().join("canary");
        fs::create_dir(&canary).unwrap();
        fs::write(canary.join("keep.txt"), b"canary").unwrap();
        fs::create_dir(canary.join("sub")).unwrap();
        fs::write(canary.join("sub/deep.txt"), b"deep").unwrap();
        let before = snapshot(&canary);
        Sandbox {
            dir,
            target,
            canary,
            before,
        }
    }

    /// A sandbox whose target directory exists (for `apply`).
    pub fn with_target() -> Self {
        let sandbox = Sandbox::new();
        fs::create_dir(&sandbox.target).unwrap();
        sandbox
    }

    /// Asserts the canary and the sandbox around the target are untouched.
    pub fn assert_outside_untouched(&self) {
        assert_eq!(snapshot(&self.canary), self.before, "the canary changed");
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "target")
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec!["canary".to_owned()],
            "something appeared next to the target"
        );
    }

    /// The canary path as a string, for planting symlinks at it.
    pub fn canary_str(&self) -> String {
        self.canary.display().to_string()
    }
}

/// An overlay mount, unmounted (lazily) when dropped, even if the test panics.
pub struct OverlayMount {
    pub merged: PathBuf,
}

impl OverlayMount {
    pub fn new(lowers: &[&Path], upper: &Path, work: &Path, merged: &Path) -> Self {
        let lowerdir: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
        let options = format!(
            "lowerdir={},upperdir={},workdir={},redirect_dir=off,metacopy=off",
            lowerdir.join(":"),
            upper.display(),
            work.display()
        );
        Self::mount(&options, merged)
    }

    /// A read-only overlay of several lower dirs (no upper).
    pub fn read_only(lowers: &[&Path], merged: &Path) -> Self {
        let lowerdir: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
        Self::mount(&format!("lowerdir={}", lowerdir.join(":")), merged)
    }

    fn mount(options: &str, merged: &Path) -> Self {
        let status = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", options])
            .arg(merged)
            .status()
            .unwrap();
        assert!(status.success(), "mount -t overlay -o {options} failed");
        OverlayMount {
            merged: merged.to_path_buf(),
        }
    }
}

impl Drop for OverlayMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.merged).status();
    }
}

/// Sets a file's mtime (and atime) without following symlinks.
pub fn set_mtime(path: &Path, secs: i64) {
    let t = filetime::FileTime::from_unix_time(secs, 0);
    filetime::set_symlink_file_times(path, t, t).unwrap();
}
