//! Helpers shared by the archive tests: tiny images in memory and hand-made tars
//! (including the malformed ones the tar crate refuses to write).

#![allow(dead_code)]

use berth_oci::manifest::{canonical_json, descriptor_of};
use berth_oci::media_type::{OCI_CONFIG, OCI_LAYER_TAR, OCI_LAYER_TAR_GZIP, OCI_MANIFEST};
use berth_oci::{Descriptor, Digest, MemoryBlobs, Platform};
use serde_json::json;

/// A layer tar holding the given files.
pub fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_path(path).unwrap();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// An image config with these (uncompressed) layers.
pub fn config_bytes(layers: &[&[u8]], cmd: &str, platform: &Platform) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| Digest::of(l).to_string()).collect();
    let mut config = json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "created": "1970-01-01T00:00:00Z",
        "config": {"Cmd": [cmd], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": cmd}]
    });
    if let Some(v) = &platform.variant {
        config["variant"] = json!(v);
    }
    canonical_json(&config).unwrap()
}

/// Stores an OCI image (uncompressed layers) in `blobs`; returns its manifest descriptor.
pub fn store_image(blobs: &mut MemoryBlobs, layers: &[&[u8]], cmd: &str) -> Descriptor {
    store_image_for(blobs, layers, cmd, &Platform::host())
}

pub fn store_image_for(
    blobs: &mut MemoryBlobs,
    layers: &[&[u8]],
    cmd: &str,
    platform: &Platform,
) -> Descriptor {
    store(blobs, layers, cmd, platform, false)
}

/// Like [`store_image`] with gzip-compressed layer blobs.
pub fn store_gzip_image(blobs: &mut MemoryBlobs, layers: &[&[u8]], cmd: &str) -> Descriptor {
    store(blobs, layers, cmd, &Platform::host(), true)
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn store(
    blobs: &mut MemoryBlobs,
    layers: &[&[u8]],
    cmd: &str,
    platform: &Platform,
    compress: bool,
) -> Descriptor {
    let config = config_bytes(layers, cmd, platform);
    let config_desc = descriptor_of(OCI_CONFIG, &config);
    blobs.insert(config);
    let layer_descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            let (blob, media_type) = if compress {
                (gzip(l), OCI_LAYER_TAR_GZIP)
            } else {
                (l.to_vec(), OCI_LAYER_TAR)
            };
            let desc = json!({"mediaType": media_type, "digest": Digest::of(&blob).to_string(), "size": blob.len()});
            blobs.insert(blob);
            desc
        })
        .collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_desc.digest().to_string(), "size": config_desc.size()},
        "layers": layer_descs,
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let desc = descriptor_of(OCI_MANIFEST, &bytes);
    blobs.insert(bytes);
    desc
}

/// One entry of a hand-made tar.
pub enum Raw<'a> {
    File(&'a [u8], &'a [u8]),
    Dir(&'a [u8]),
    Symlink(&'a [u8], &'a [u8]),
    HardLink(&'a [u8], &'a [u8]),
    /// Any type flag, path, data.
    Typed(u8, &'a [u8], &'a [u8]),
}

/// A GNU-format tar of the entries, paths written byte for byte (no checks).
pub fn raw_tar(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let (flag, path, link, data): (u8, &[u8], &[u8], &[u8]) = match entry {
            Raw::File(p, d) => (b'0', p, b"", d),
            Raw::Dir(p) => (b'5', p, b"", b""),
            Raw::Symlink(p, l) => (b'2', p, l, b""),
            Raw::HardLink(p, l) => (b'1', p, l, b""),
            Raw::Typed(f, p, d) => (*f, p, b"", d),
        };
        out.extend_from_slice(&raw_header(flag, path, link, data.len() as u64));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub fn raw_header(flag: u8, path: &[u8], link: &[u8], size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..path.len()].copy_from_slice(path);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = flag;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..265].copy_from_slice(b"ustar  \0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// Entry paths of a tar, in order.
pub fn tar_paths(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// One file of a tar.
pub fn tar_file(bytes: &[u8], path: &str) -> Vec<u8> {
    use std::io::Read;
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy() == path {
            let mut out = Vec::new();
            entry.read_to_end(&mut out).unwrap();
            return out;
        }
    }
    panic!("{path} not in the archive")
}
