//! A busybox base image built from Debian's static `/bin/busybox`, for tests and for
//! users without internet: one uncompressed layer (the binary, a symlink per applet,
//! the usual empty directories, a minimal passwd/group), written with berth-oci's
//! archive writer, so it is a docker-archive and an OCI layout that `docker load`,
//! skopeo and berth accept.
//!
//! The image is deterministic for a given busybox binary: every timestamp is the epoch
//! (or `SOURCE_DATE_EPOCH`), owners are root, entries are sorted. It must never fetch
//! anything: a missing busybox is an error that names the package to install.

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_oci::manifest::{canonical_json, descriptor_of};
use berth_oci::media_type::{OCI_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST};
use berth_oci::{Digest, ExportImage, MemoryBlobs, Platform, Reference, WriteOptions};
use serde_json::json;

const BUSYBOX: &str = "/bin/busybox";
const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// A built busybox image archive.
#[derive(Clone, Debug)]
pub struct BusyboxImage {
    /// The archive (`docker load -i PATH`).
    pub path: PathBuf,
    /// `sha256:<config digest>`, what `docker images --no-trunc` shows.
    pub image_id: String,
    /// `sha256:<digest of the uncompressed layer>`.
    pub layer_diff_id: String,
}

/// Builds the busybox image tagged `tag` (e.g. `busybox:latest`) into `dest_dir`.
///
/// Panics when `/bin/busybox` is missing or not static: `apt-get install busybox-static`.
pub fn busybox_archive(dest_dir: &Path, tag: &str) -> BusyboxImage {
    let binary = std::fs::read(BUSYBOX).unwrap_or_else(|e| {
        panic!("busybox image needs {BUSYBOX} ({e}): apt-get install busybox-static")
    });
    assert!(
        !is_dynamic_elf(&binary),
        "{BUSYBOX} is dynamically linked and cannot run in an empty image: apt-get install busybox-static"
    );
    let reference = Reference::parse(tag).unwrap_or_else(|e| panic!("tag {tag:?}: {e}"));
    let epoch = source_date_epoch();

    let layer = layer_tar(&binary, &applets(), epoch);
    let diff_id = Digest::of(&layer);
    let created = rfc3339(epoch);
    let platform = Platform::host();
    let mut config = json!({
        "architecture": platform.architecture,
        "os": "linux",
        "created": created,
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        "history": [{"created": created, "created_by": "berth busybox-image from Debian busybox-static"}],
    });
    if let Some(variant) = &platform.variant {
        config["variant"] = json!(variant);
    }
    let config = canonical_json(&config).expect("config encodes");

    let mut blobs = MemoryBlobs::new();
    let config_desc = descriptor_of(OCI_CONFIG, &config);
    let layer_desc = descriptor_of(OCI_LAYER_TAR, &layer);
    let image_id = Digest::of(&config).to_string();
    blobs.insert(config);
    blobs.insert(layer);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_desc.digest().to_string(), "size": config_desc.size()},
        "layers": [{"mediaType": OCI_LAYER_TAR, "digest": layer_desc.digest().to_string(), "size": layer_desc.size()}],
    });
    let manifest = canonical_json(&manifest).expect("manifest encodes");
    let manifest_desc = descriptor_of(OCI_MANIFEST, &manifest);
    blobs.insert(manifest);

    let images = [ExportImage {
        manifest: manifest_desc,
        names: vec![reference.clone()],
    }];
    let options = WriteOptions {
        mtime: epoch,
        ..WriteOptions::default()
    };
    let archive = berth_oci::write_archive_with(Vec::new(), &images, &mut blobs, &options)
        .expect("busybox archive writes");
    let file_name: String = reference
        .familiar()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dest_dir.join(format!("{file_name}.tar"));
    std::fs::write(&path, archive).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    BusyboxImage {
        path,
        image_id,
        layer_diff_id: diff_id.to_string(),
    }
}

/// The applet names `busybox --list` prints, sorted, without `busybox` itself.
fn applets() -> Vec<String> {
    let out = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .unwrap_or_else(|e| {
            panic!("running {BUSYBOX} --list: {e}: apt-get install busybox-static")
        });
    assert!(out.status.success(), "{BUSYBOX} --list failed");
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|n| !n.is_empty() && *n != "busybox" && !n.contains('/'))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

enum Node<'a> {
    Dir(u32),
    File(u32, &'a [u8]),
    Link(&'a str),
}

fn layer_tar(binary: &[u8], applets: &[String], epoch: u64) -> Vec<u8> {
    let mut entries: Vec<(String, Node<'_>)> = vec![
        ("bin/".into(), Node::Dir(0o755)),
        ("bin/busybox".into(), Node::File(0o755, binary)),
        ("dev/".into(), Node::Dir(0o755)),
        ("etc/".into(), Node::Dir(0o755)),
        ("etc/group".into(), Node::File(0o644, GROUP.as_bytes())),
        ("etc/passwd".into(), Node::File(0o644, PASSWD.as_bytes())),
        ("proc/".into(), Node::Dir(0o755)),
        ("root/".into(), Node::Dir(0o700)),
        ("sys/".into(), Node::Dir(0o755)),
        ("tmp/".into(), Node::Dir(0o1777)),
        ("usr/".into(), Node::Dir(0o755)),
        ("usr/bin/".into(), Node::Dir(0o755)),
    ];
    entries.extend(
        applets
            .iter()
            .map(|a| (format!("bin/{a}"), Node::Link("busybox"))),
    );
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    let mut builder = tar::Builder::new(Vec::new());
    for (path, node) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_path(&path).expect("short path");
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(epoch);
        let data: &[u8] = match node {
            Node::Dir(mode) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(mode);
                &[]
            }
            Node::File(mode, bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(mode);
                bytes
            }
            Node::Link(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_link_name(target).expect("short link");
                &[]
            }
        };
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).expect("in-memory tar");
    }
    builder.into_inner().expect("in-memory tar")
}

/// `SOURCE_DATE_EPOCH` when set (reproducible builds), else 0.
fn source_date_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (days-to-civil, proleptic
/// Gregorian).
fn rfc3339(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Whether an ELF file asks for a program interpreter (a dynamic linker).
fn is_dynamic_elf(bytes: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        // Only 64-bit little-endian is inspected; other binaries are trusted.
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54), u16_at(56));
    (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        bytes
            .get(at..at + 4)
            .is_some_and(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) == PT_INTERP)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn tells_static_from_dynamic_binaries() {
        // Test binaries for the gnu target link libc dynamically.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(is_dynamic_elf(&me));
        assert!(!is_dynamic_elf(b"#!/bin/sh\n"));
    }
}
