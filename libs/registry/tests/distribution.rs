//! berth's registry client against a real registry (Debian's docker-registry, started by
//! each test): an image's blobs and manifest go up and come back byte for byte, missing
//! things fail with the registry's words, credentials are asked for and checked, and
//! what arrives is checked against what was asked for. Needs `docker-registry` (the
//! README's test command installs it).

use berth_oci::Digest;
use berth_registry::{Credentials, Registry, RegistryError, TransportConfig};
use berth_testkit::{BASIC_PASSWORD, BASIC_USER, DockerRegistry};
use bytes::Bytes;
use futures::StreamExt;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A small image: one layer, a config, a manifest naming both.
fn image() -> (Bytes, Bytes, Bytes) {
    let layer = Bytes::from_static(b"not really a tar, the registry does not care");
    let config = Bytes::from(
        format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
            Digest::of(&layer)
        )
        .into_bytes(),
    );
    let manifest = Bytes::from(
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
            Digest::of(&config),
            config.len(),
            Digest::of(&layer),
            layer.len()
        )
        .into_bytes(),
    );
    (layer, config, manifest)
}

async fn push_image(registry: &Registry, repository: &str, tag: &str) -> Digest {
    let (layer, config, manifest) = image();
    for blob in [&layer, &config] {
        let digest = Digest::of(blob);
        assert_eq!(registry.blob_size(repository, &digest).await.unwrap(), None);
        registry
            .push_blob(repository, &digest, blob.clone())
            .await
            .unwrap();
        assert_eq!(
            registry.blob_size(repository, &digest).await.unwrap(),
            Some(blob.len() as u64)
        );
    }
    registry
        .push_manifest(repository, tag, MANIFEST, manifest)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_image_goes_up_and_comes_back_byte_for_byte() {
    let server = DockerRegistry::start();
    let registry = Registry::new(server.host(), TransportConfig::default(), None);
    registry.ping().await.unwrap();
    let digest = push_image(&registry, "berth/test", "v1").await;
    let (layer, config, manifest) = image();
    assert_eq!(digest, Digest::of(&manifest));

    for reference in ["v1".to_owned(), digest.to_string()] {
        let fetched = registry.manifest("berth/test", &reference).await.unwrap();
        assert_eq!(fetched.bytes, manifest);
        assert_eq!(fetched.digest, digest);
        assert_eq!(fetched.media_type, MANIFEST);
    }
    assert_eq!(
        registry
            .blob_bytes("berth/test", &Digest::of(&config), 1 << 20)
            .await
            .unwrap(),
        config
    );
    // A download cut short goes on where it stopped.
    let (length, stream) = registry
        .blob("berth/test", &Digest::of(&layer), 4)
        .await
        .unwrap();
    assert_eq!(length, Some(layer.len() as u64 - 4));
    let rest: Vec<u8> = stream.map(|c| c.unwrap().to_vec()).concat().await;
    assert_eq!(rest, &layer[4..]);
    assert_eq!(registry.tags("berth/test").await.unwrap(), ["v1"]);
}

#[tokio::test]
async fn missing_things_fail_in_the_registry_s_words() {
    let server = DockerRegistry::start();
    let registry = Registry::new(server.host(), TransportConfig::default(), None);
    push_image(&registry, "berth/test", "v1").await;
    let missing = registry.manifest("berth/test", "v2").await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    assert!(
        missing.to_string().starts_with("manifest unknown"),
        "{missing}"
    );
    let no_repo = registry.manifest("berth/nothing", "v1").await.unwrap_err();
    assert!(no_repo.is_not_found(), "{no_repo}");
    let blob = registry
        .blob_bytes("berth/test", &Digest::of(b"absent"), 1024)
        .await
        .unwrap_err();
    assert!(blob.is_not_found(), "{blob}");
}

/// A registry that lies: wrong bytes for a digest, a manifest over the limit, a redirect
/// that never ends. Raw HTTP/1.1, one answer per connection.
async fn hostile_registry() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                    // A TLS hello: this registry speaks plain HTTP only.
                    if request.first() == Some(&0x16) {
                        return;
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let answer = if path.ends_with("/manifests/loop") {
                    "HTTP/1.1 302 Found\r\nLocation: /v2/x/manifests/loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
                } else if path.ends_with("/manifests/huge") {
                    let body = "x".repeat(berth_registry::MANIFEST_LIMIT + 1);
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    // Whatever was asked for, the same wrong bytes.
                    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 5\r\nConnection: close\r\n\r\nwrong".to_owned()
                };
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    host
}

#[tokio::test]
async fn a_lying_registry_is_refused() {
    let host = hostile_registry().await;
    let registry = Registry::new(&host, TransportConfig::default(), None);
    let asked = Digest::of(b"what was asked for");
    let blob = registry.blob_bytes("x", &asked, 1 << 20).await.unwrap_err();
    assert!(matches!(blob, RegistryError::Invalid(_)), "{blob}");
    assert!(blob.to_string().contains("refused"), "{blob}");
    let manifest = registry
        .manifest("x", &asked.to_string())
        .await
        .unwrap_err();
    assert!(
        manifest.to_string().contains("verification failed"),
        "{manifest}"
    );
    let huge = registry.manifest("x", "huge").await.unwrap_err();
    assert!(huge.to_string().contains("limit"), "{huge}");
    let redirects = registry.manifest("x", "loop").await.unwrap_err();
    assert!(redirects.to_string().contains("redirects"), "{redirects}");
}

#[tokio::test]
async fn basic_auth_is_asked_for_and_checked() {
    let server = DockerRegistry::with_basic_auth();
    let anonymous = Registry::new(server.host(), TransportConfig::default(), None);
    let err = anonymous.ping().await.unwrap_err();
    assert!(matches!(err, RegistryError::NoCredentials), "{err}");
    assert_eq!(err.to_string(), "no basic auth credentials");

    let wrong = Registry::new(
        server.host(),
        TransportConfig::default(),
        Some(Credentials {
            username: BASIC_USER.into(),
            password: "wrong".into(),
            ..Default::default()
        }),
    );
    let err = wrong.ping().await.unwrap_err();
    assert!(err.to_string().starts_with("unauthorized"), "{err}");

    let right = Registry::new(
        server.host(),
        TransportConfig::default(),
        Some(Credentials {
            username: BASIC_USER.into(),
            password: BASIC_PASSWORD.into(),
            ..Default::default()
        }),
    );
    right.ping().await.unwrap();
    let digest = push_image(&right, "berth/private", "v1").await;
    assert_eq!(
        right.manifest("berth/private", "v1").await.unwrap().digest,
        digest
    );
    assert!(format!("{right:?}").contains("user") && !format!("{right:?}").contains("secret"));
}
