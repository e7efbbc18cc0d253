//! The image store's gRPC contract, against the real `berth-image-store` binary: blobs are
//! verified before they are visible, uploads resume, reads resume, leases keep blobs from
//! GC, and bad input changes nothing.

use berth_oci::Digest as OciDigest;
use berth_proto::v1::image_store_client::ImageStoreClient;
use berth_proto::v1::write_blob_request::Part;
use berth_proto::v1::*;
use berth_rpc::{Endpoint, TracedChannel};
use berth_testkit::{ChildGuard, spawn_service};
use futures::StreamExt;

struct Store {
    _process: ChildGuard,
    client: ImageStoreClient<TracedChannel>,
    dir: tempfile::TempDir,
}

fn start() -> Store {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (process, line) = spawn_service(
        "berth-image-store",
        &[
            "--listen",
            "tcp://127.0.0.1:0",
            "--data-root",
            data.to_str().unwrap(),
        ],
        "serving gRPC",
    );
    let addr = line
        .split("endpoint=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let endpoint: Endpoint = addr.parse().unwrap();
    Store {
        _process: process,
        client: ImageStoreClient::new(berth_rpc::connect(&endpoint).unwrap()),
        dir,
    }
}

fn digest(bytes: &[u8]) -> Option<Digest> {
    Some(Digest {
        value: OciDigest::of(bytes).to_string(),
    })
}

fn write_messages(
    header: WriteBlobHeader,
    chunks: Vec<Vec<u8>>,
) -> impl futures::Stream<Item = WriteBlobRequest> {
    futures::stream::iter(
        std::iter::once(WriteBlobRequest {
            part: Some(Part::Header(header)),
        })
        .chain(chunks.into_iter().map(|c| WriteBlobRequest {
            part: Some(Part::Data(c)),
        })),
    )
}

async fn read_all(
    client: &mut ImageStoreClient<TracedChannel>,
    d: Option<Digest>,
    offset: u64,
) -> Result<Vec<u8>, tonic::Status> {
    let mut stream = client
        .read_blob(ReadBlobRequest { digest: d, offset })
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend(chunk?.data);
    }
    Ok(out)
}

fn blob_files(store: &Store) -> usize {
    std::fs::read_dir(store.dir.path().join("data/blobs/sha256"))
        .unwrap()
        .count()
}

#[tokio::test]
async fn blobs_are_verified_streamed_and_resumable() {
    let mut s = start();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let header = |size, offset, upload_id: &str| WriteBlobHeader {
        expected_digest: digest(&data),
        expected_size: size,
        upload_id: upload_id.to_owned(),
        offset,
        lease_id: String::new(),
    };

    // A wrong digest: refused, nothing stored.
    let mut lie = data.clone();
    lie[10] ^= 1;
    let err = s
        .client
        .write_blob(write_messages(header(data.len() as u64, 0, ""), vec![lie]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("digest mismatch"),
        "{}",
        err.message()
    );
    assert_eq!(blob_files(&s), 0);

    // A stream that ends early: refused, nothing stored.
    let err = s
        .client
        .write_blob(write_messages(
            header(data.len() as u64, 0, ""),
            vec![data[..1000].to_vec()],
        ))
        .await
        .unwrap_err();
    assert!(err.message().contains("size mismatch"), "{}", err.message());
    assert_eq!(blob_files(&s), 0);

    // More than announced: refused.
    let err = s
        .client
        .write_blob(write_messages(header(10, 0, ""), vec![data.clone()]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    // An upload that stops half way, then resumes from what the store reports: a named
    // upload keeps what it received (its writer lost its source and comes back).
    let half = data.len() / 2;
    let err = s
        .client
        .write_blob(write_messages(
            header(data.len() as u64, 0, "up-1"),
            vec![data[..half].to_vec()],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Aborted, "{}", err.message());
    assert!(
        err.message().contains(&format!("resume from {half}")),
        "{}",
        err.message()
    );
    assert_eq!(
        blob_files(&s),
        0,
        "nothing is visible before the whole blob"
    );
    let held = s
        .client
        .stat_upload(StatUploadRequest {
            upload_id: "up-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.offset, half as u64);
    // Resuming from anywhere else is refused.
    let wrong = s
        .client
        .write_blob(write_messages(
            header(data.len() as u64, 0, "up-1"),
            vec![data.clone()],
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::FailedPrecondition);
    let ok = s
        .client
        .write_blob(write_messages(
            header(data.len() as u64, half as u64, "up-1"),
            data[half..].chunks(1 << 20).map(<[u8]>::to_vec).collect(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.size, data.len() as u64);
    assert!(!ok.already_existed);
    let again = s
        .client
        .write_blob(write_messages(header(data.len() as u64, 0, ""), vec![]))
        .await
        .unwrap()
        .into_inner();
    assert!(again.already_existed, "a stored blob is not sent twice");

    assert_eq!(
        read_all(&mut s.client, digest(&data), 0).await.unwrap(),
        data
    );
    assert_eq!(
        read_all(&mut s.client, digest(&data), 2_999_000)
            .await
            .unwrap(),
        data[2_999_000..]
    );
    let err = read_all(&mut s.client, digest(&data), data.len() as u64 + 1)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let err = read_all(&mut s.client, digest(b"absent"), 0)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = read_all(
        &mut s.client,
        Some(Digest {
            value: "md5:abc".into(),
        }),
        0,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn leases_keep_blobs_from_gc_until_they_end() {
    let mut s = start();
    let lease = s
        .client
        .create_lease(CreateLeaseRequest::default())
        .await
        .unwrap()
        .into_inner()
        .lease_id;
    let kept = b"kept by a lease".to_vec();
    let loose = b"referenced by nothing".to_vec();
    for (bytes, lease_id) in [(&kept, lease.clone()), (&loose, String::new())] {
        let header = WriteBlobHeader {
            expected_digest: digest(bytes),
            expected_size: bytes.len() as u64,
            lease_id,
            ..Default::default()
        };
        s.client
            .write_blob(write_messages(header, vec![bytes.clone()]))
            .await
            .unwrap();
    }
    let gc = s
        .client
        .garbage_collect(GarbageCollectRequest { dry_run: false })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(gc.blobs_deleted, 1);
    assert!(
        s.client
            .stat_blob(StatBlobRequest {
                digest: digest(&kept)
            })
            .await
            .is_ok()
    );
    assert_eq!(
        s.client
            .stat_blob(StatBlobRequest {
                digest: digest(&loose)
            })
            .await
            .unwrap_err()
            .code(),
        tonic::Code::NotFound
    );

    s.client
        .delete_lease(DeleteLeaseRequest { lease_id: lease })
        .await
        .unwrap();
    let gc = s
        .client
        .garbage_collect(GarbageCollectRequest { dry_run: false })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(gc.blobs_deleted, 1);
    assert_eq!(blob_files(&s), 0);
}

#[tokio::test]
async fn manifests_must_name_stored_blobs_and_become_images() {
    let mut s = start();
    let layer = b"not really a tar, but content addressed all the same".to_vec();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
        digest(&config).unwrap().value,
        config.len(),
        digest(&layer).unwrap().value,
        layer.len()
    );
    let put = |content: Vec<u8>| PutManifestRequest {
        content,
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        ..Default::default()
    };
    // Blobs missing: stored as content, but it is no image.
    s.client
        .put_manifest(put(manifest.clone().into_bytes()))
        .await
        .unwrap();
    let images = s
        .client
        .list_images(ListImagesRequest {
            all: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(images.images.is_empty());

    for bytes in [&layer, &config] {
        let header = WriteBlobHeader {
            expected_digest: digest(bytes),
            expected_size: bytes.len() as u64,
            ..Default::default()
        };
        s.client
            .write_blob(write_messages(header, vec![bytes.clone()]))
            .await
            .unwrap();
    }
    let stored = s
        .client
        .put_manifest(put(manifest.clone().into_bytes()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.digest, digest(manifest.as_bytes()));
    let got = s
        .client
        .get_manifest(GetManifestRequest {
            digest: stored.digest.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.content, manifest.as_bytes(), "byte for byte");

    s.client
        .tag(TagRequest {
            source: digest(&config).unwrap().value,
            target: Some(ImageReference {
                original: "localhost:5000/team/app:1".into(),
                ..Default::default()
            }),
            repo_digest: false,
        })
        .await
        .unwrap();
    // NAME@DIGEST is no tag (docker tag refuses it), but a pull or push keeps it as a
    // RepoDigest.
    let pinned = format!(
        "localhost:5000/team/app@{}",
        stored.digest.clone().unwrap().value
    );
    let as_digest = |repo_digest| TagRequest {
        source: "localhost:5000/team/app:1".into(),
        target: Some(ImageReference {
            original: pinned.clone(),
            ..Default::default()
        }),
        repo_digest,
    };
    let refused = s.client.tag(as_digest(false)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    s.client.tag(as_digest(true)).await.unwrap();
    let inspected = s
        .client
        .inspect_image(berth_proto::v1::InspectImageRequest {
            reference: "localhost:5000/team/app:1".into(),
            platform: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inspected.repo_digests, std::slice::from_ref(&pinned));
    let resolved = s
        .client
        .resolve(ResolveRequest {
            reference: "localhost:5000/team/app:1".into(),
            platform: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.image_id, digest(&config));
    assert_eq!(resolved.manifest.unwrap().digest, stored.digest);
    assert_eq!(resolved.layers.len(), 1);

    let bad = s.client.put_manifest(PutManifestRequest {
        content: manifest.into_bytes(),
        expected_digest: digest(b"other"),
        ..Default::default()
    });
    assert_eq!(bad.await.unwrap_err().code(), tonic::Code::InvalidArgument);
    let bad_tag = s.client.tag(TagRequest {
        source: "localhost:5000/team/app:1".into(),
        target: Some(ImageReference {
            original: "team/UpperCase".into(),
            ..Default::default()
        }),
        repo_digest: false,
    });
    let err = bad_tag.await.unwrap_err();
    assert!(
        err.message().contains("must be lowercase"),
        "{}",
        err.message()
    );
}
