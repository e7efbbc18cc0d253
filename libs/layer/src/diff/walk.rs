//! Walking the directory to diff and deciding what each file becomes in the layer.
//!
//! The walk never follows symlinks (`symlink_metadata`, `O_NOFOLLOW`) and never
//! descends into another filesystem's view of a symlinked directory. In overlay upper
//! mode it translates overlayfs' representation (0:0 char devices, opaque xattrs) into
//! OCI whiteouts and refuses upper dirs that rely on overlay features a layer cannot
//! express (redirect_dir, metacopy). It must not read file contents; `diff` does that
//! while writing.

use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{LayerError, Result, show};
use crate::path::{OPAQUE_MARKER, WHITEOUT_PREFIX};

/// What one output member is made from.
#[derive(Debug)]
pub(super) enum Source {
    /// A file, directory, symlink, device or fifo, emitted as itself.
    Node {
        host: PathBuf,
        meta: Metadata,
        xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// An overlay whiteout device, emitted as `.wh.NAME` (an empty regular file).
    Whiteout { meta: Metadata },
    /// An opaque directory's marker `.wh..wh..opq`, carrying the directory's owner.
    OpaqueMarker { meta: Metadata },
}

/// One member to emit, keyed by its layer path.
#[derive(Debug)]
pub(super) struct Planned {
    pub(super) path: Vec<u8>,
    pub(super) source: Source,
}

/// xattrs that are never copied into a layer: overlayfs bookkeeping and the host's
/// SELinux labels (policy of the build host, not content of the image).
fn is_host_only_xattr(name: &[u8]) -> bool {
    name.starts_with(b"trusted.overlay.")
        || name.starts_with(b"user.overlay.")
        || name == b"security.selinux"
}

const OPAQUE_XATTRS: [&str; 2] = ["trusted.overlay.opaque", "user.overlay.opaque"];
const UNSUPPORTED_OVERLAY_XATTRS: [&str; 4] = [
    "trusted.overlay.redirect",
    "trusted.overlay.metacopy",
    "user.overlay.redirect",
    "user.overlay.metacopy",
];

/// Lists everything under `root` as members, sorted by layer path bytes.
pub(super) fn plan(root: &Path, overlay_upper: bool) -> Result<Vec<Planned>> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| io("list", &rel, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io("list", &rel, e))?;
            let name = entry.file_name();
            let name = name.as_bytes();
            let path = join(&rel, name);
            let host = entry.path();
            let meta = fs::symlink_metadata(&host).map_err(|e| io("stat", &path, e))?;
            let file_type = meta.file_type();
            if file_type.is_socket() {
                tracing::warn!(path = %show(&path), "skipping socket: a layer cannot hold one");
                continue;
            }
            if overlay_upper && file_type.is_char_device() && meta.rdev() == 0 {
                let mut wh = rel.clone();
                if !wh.is_empty() {
                    wh.push(b'/');
                }
                wh.extend_from_slice(WHITEOUT_PREFIX);
                wh.extend_from_slice(name);
                out.push(Planned {
                    path: wh,
                    source: Source::Whiteout { meta },
                });
                continue;
            }
            if name.starts_with(WHITEOUT_PREFIX) {
                return Err(LayerError::Unrepresentable {
                    path: show(&path),
                    reason: "names starting with \".wh.\" are reserved for whiteouts".to_owned(),
                });
            }
            let mut xattrs = read_xattrs(&host, &path)?;
            let opaque = overlay_upper && overlay_opaque(&xattrs, &path)?;
            xattrs.retain(|(name, _)| !is_host_only_xattr(name));
            if file_type.is_dir() {
                if opaque {
                    out.push(Planned {
                        path: join(&path, OPAQUE_MARKER),
                        source: Source::OpaqueMarker { meta: meta.clone() },
                    });
                }
                stack.push((host.clone(), path.clone()));
            }
            out.push(Planned {
                path,
                source: Source::Node { host, meta, xattrs },
            });
        }
    }
    out.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn join(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = Vec::with_capacity(rel.len() + 1 + name.len());
    path.extend_from_slice(rel);
    if !path.is_empty() {
        path.push(b'/');
    }
    path.extend_from_slice(name);
    path
}

/// Every xattr of `host`, sorted by name.
fn read_xattrs(host: &Path, path: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let names = match xattr::list(host) {
        Ok(names) => names,
        // Filesystems without xattr support simply have none.
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(io("list xattrs of", path, e)),
    };
    let mut out = Vec::new();
    for name in names {
        // Gone between list and get: nothing to carry.
        if let Some(value) = xattr::get(host, &name).map_err(|e| io("read xattr of", path, e))? {
            out.push((name.as_bytes().to_vec(), value));
        }
    }
    out.sort();
    Ok(out)
}

/// Overlay upper mode: is this directory opaque? Refuses overlay features a layer
/// cannot express.
fn overlay_opaque(xattrs: &[(Vec<u8>, Vec<u8>)], path: &[u8]) -> Result<bool> {
    let mut opaque = false;
    for (name, value) in xattrs {
        if UNSUPPORTED_OVERLAY_XATTRS
            .iter()
            .any(|x| x.as_bytes() == name.as_slice())
        {
            return Err(LayerError::Unrepresentable {
                path: show(path),
                reason: format!(
                    "it carries {}; mount the overlay with redirect_dir=off,metacopy=off \
                     so its upper directory can become a layer",
                    show(name)
                ),
            });
        }
        if OPAQUE_XATTRS
            .iter()
            .any(|x| x.as_bytes() == name.as_slice())
            && value == b"y"
        {
            opaque = true;
        }
    }
    Ok(opaque)
}

fn io(op: &'static str, path: &[u8], e: std::io::Error) -> LayerError {
    LayerError::io(op, show(path), e)
}
