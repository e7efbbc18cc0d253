//! Layers unpacked once per host and stacked with overlayfs, from a real image store:
//! the container root shows the image's files, hides what later layers deleted, and
//! keeps the container's own writes out of the shared snapshots. Needs root (mounts).

use berth_oci::Digest;
use berth_proto::v1::image_store_client::ImageStoreClient;
use berth_runner::ImageStore;
use berth_runner::containers::images::ImageSource as _;
use berth_snapshots::ContainerFs;
use berth_snapshots::{Snapshots, chain_ids};
use berth_testkit::{Berthd, busybox_archive, docker, printed};

/// Unmounts even when the test fails, so no mount outlives it.
struct Mounted(ContainerFs);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = self.0.remove();
    }
}

#[tokio::test]
async fn an_image_is_unpacked_once_and_mounted_as_an_overlay() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let busybox = busybox_archive(berthd.dir(), "busybox:latest");
    let out = docker(&host, &["load", "-i", busybox.path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", printed(&out));

    let endpoint = berth_rpc::Endpoint::Unix(berthd.data_root().join("run/image-store.sock"));
    let store = ImageStore(ImageStoreClient::new(
        berth_rpc::connect(&endpoint).unwrap(),
    ));
    let image = store.resolve("busybox").await.unwrap();
    let diff_ids: Vec<Digest> = vec![busybox.layer_diff_id.parse().unwrap()];

    let work = tempfile::tempdir().unwrap();
    let snapshots = Snapshots::open(&work.path().join("snapshots"), Default::default()).unwrap();
    let lowers = snapshots
        .ensure(&store, &image.layers, &diff_ids)
        .await
        .unwrap();
    assert_eq!(lowers, [snapshots.dir(&chain_ids(&diff_ids)[0])]);
    let unpacked_at = std::fs::metadata(&lowers[0]).unwrap().modified().unwrap();
    // A second container of the same image reuses the snapshot.
    let again = snapshots
        .ensure(&store, &image.layers, &diff_ids)
        .await
        .unwrap();
    assert_eq!(again, lowers);
    assert_eq!(
        std::fs::metadata(&lowers[0]).unwrap().modified().unwrap(),
        unpacked_at
    );

    let fs = Mounted(ContainerFs::new(work.path().join("containers/c1")));
    fs.0.mount(&lowers).unwrap();
    let root = fs.0.rootfs();
    assert!(root.join("bin/busybox").is_file());
    assert_eq!(
        std::fs::read_link(root.join("bin/sh")).unwrap().to_str(),
        Some("busybox")
    );

    // Writes land in the container's upper directory, never in the shared snapshot.
    std::fs::write(root.join("tmp/note"), "mine").unwrap();
    std::fs::remove_file(root.join("bin/sh")).unwrap();
    assert!(fs.0.upper().join("tmp/note").is_file());
    assert!(
        lowers[0].join("bin/sh").symlink_metadata().is_ok(),
        "the snapshot is untouched"
    );
    fs.0.mount(&lowers).expect("mounting twice is a no-op");

    // A corrupt layer (wrong diff ID) is refused and leaves no snapshot behind.
    let wrong: Vec<Digest> = vec![Digest::of(b"not this layer")];
    let err = snapshots
        .ensure(&store, &image.layers, &wrong)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("diff ID"), "{err}");
    assert!(!snapshots.dir(&chain_ids(&wrong)[0]).exists());
}
