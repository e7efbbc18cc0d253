//! A deleted file is hidden, not gone: layer 1 adds /secret.txt, layer 2 whites it out.
//! Unpacked, the image has no secret; stored and saved, layer 1 still holds it byte for
//! byte. That is why secrets must never land in a layer (and what an image audit finds).

use berth_oci::{ArchiveLimits, ExportImage, MemoryBlobs, Reference, read_archive, write_archive};
use berth_testkit::{Berthd, docker, printed};
use serde_json::json;

fn layer(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    berth_oci::Digest::of(bytes).to_string()
}

#[test]
fn a_whiteout_hides_the_file_but_the_lower_layer_keeps_it() {
    let secret = b"hunter2, do not ship me\n".as_slice();
    let layer1 = layer(&[("secret.txt", secret), ("keep.txt", b"kept\n")]);
    let layer2 = layer(&[(".wh.secret.txt", b"")]);

    // Unpacking both: the secret is hidden.
    let root = tempfile::tempdir().unwrap();
    for l in [&layer1, &layer2] {
        berth_layer::apply(
            l.as_slice(),
            root.path(),
            &berth_layer::ApplyOptions::default(),
        )
        .unwrap();
    }
    assert!(!root.path().join("secret.txt").exists());
    assert_eq!(
        std::fs::read(root.path().join("keep.txt")).unwrap(),
        b"kept\n"
    );

    // As an image through berth: stored and saved, layer 1 still carries it.
    let mut blobs = MemoryBlobs::new();
    let l1 = blobs.insert(layer1.clone());
    let l2 = blobs.insert(layer2.clone());
    let config = serde_json::to_vec(&json!({
        "architecture": berth_oci::Platform::host().architecture, "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer1), sha256(&layer2)]},
        "history": [{"created_by": "ADD secret.txt"}, {"created_by": "RUN rm secret.txt"}],
    }))
    .unwrap();
    let config_len = config.len();
    let c = blobs.insert(config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c.to_string(), "size": config_len},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l1.to_string(), "size": layer1.len()},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l2.to_string(), "size": layer2.len()},
        ],
    }))
    .unwrap();
    let descriptor =
        berth_oci::manifest::descriptor_of("application/vnd.oci.image.manifest.v1+json", &manifest);
    blobs.insert(manifest);
    let image = ExportImage {
        manifest: descriptor,
        names: vec![Reference::parse("layered:1").unwrap()],
    };
    let archive = write_archive(Vec::new(), &[image], &mut blobs).unwrap();

    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let path = berthd.dir().join("layered.tar");
    std::fs::write(&path, archive).unwrap();
    let out = docker(&host, &["load", "-i", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", printed(&out));

    let stored = std::fs::read(
        berthd
            .data_root()
            .join("image-store/blobs/sha256")
            .join(l1.hex()),
    )
    .unwrap();
    assert_eq!(stored, layer1, "the store keeps layer 1 byte for byte");

    let saved = berthd.dir().join("saved.tar");
    let out = docker(&host, &["save", "-o", saved.to_str().unwrap(), "layered:1"]);
    assert!(out.status.success(), "{}", printed(&out));
    let mut back = MemoryBlobs::new();
    read_archive(
        std::fs::File::open(&saved).unwrap(),
        &mut back,
        &ArchiveLimits::default(),
    )
    .unwrap();
    let saved_layer1 = back.get(&l1).expect("layer 1 is in the saved image");
    assert_eq!(saved_layer1, layer1.as_slice());
    assert!(
        saved_layer1.windows(secret.len()).any(|w| w == secret),
        "the secret is still readable there"
    );
}
