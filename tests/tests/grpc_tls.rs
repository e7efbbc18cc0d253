//! Mutual TLS between services (issue #9, finding 5, the distributed shape): an image
//! store started with `--grpc-tls*` answers only clients holding a certificate of the
//! cluster's CA, and a gateway given the same flags reaches it. Needs `openssl` and the
//! docker CLI.

use std::time::Duration;

use berth_testkit::{TestPki, docker_ok, spawn_service};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// The address a service logged when it started serving gRPC.
fn logged_addr(line: &str) -> String {
    line.split("endpoint=tcp://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the line names a TCP endpoint")
        .to_owned()
}

/// Whether the image store's health answers over `channel`.
async fn answers(channel: Channel) -> bool {
    let mut client = HealthClient::new(channel);
    let check = client.check(HealthCheckRequest {
        service: String::new(),
    });
    matches!(
        tokio::time::timeout(Duration::from_secs(10), check).await,
        Ok(Ok(_))
    )
}

async fn tls_channel(pki: &TestPki, addr: &str, identity: Option<&str>) -> Channel {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(
        std::fs::read(pki.path("ca.pem")).unwrap(),
    ));
    if let Some(name) = identity {
        tls = tls.identity(Identity::from_pem(
            std::fs::read(pki.path(&format!("{name}.pem"))).unwrap(),
            std::fs::read(pki.path(&format!("{name}-key.pem"))).unwrap(),
        ));
    }
    tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_lazy()
}

#[tokio::test]
async fn services_with_grpc_tls_admit_only_peers_with_a_certificate_of_the_ca() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("image-store").display().to_string();
    let tls_flags = [
        "--grpc-tlscacert".to_owned(),
        pki.arg("ca.pem"),
        "--grpc-tlscert".to_owned(),
        pki.arg("server.pem"),
        "--grpc-tlskey".to_owned(),
        pki.arg("server-key.pem"),
    ];
    let mut args = vec!["--listen", "tcp://127.0.0.1:0", "--data-root", &data];
    args.extend(tls_flags.iter().map(String::as_str));
    let (_store, line) = spawn_service("berth-image-store", &args, "serving gRPC");
    let addr = logged_addr(&line);

    let plain = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    assert!(!answers(plain).await, "plain gRPC got in");
    assert!(
        !answers(tls_channel(&pki, &addr, None).await).await,
        "TLS without a client certificate got in"
    );
    assert!(
        !answers(tls_channel(&pki, &addr, Some("rogue")).await).await,
        "another CA's certificate got in"
    );
    assert!(
        answers(tls_channel(&pki, &addr, Some("client")).await).await,
        "a certificate of the CA is admitted"
    );

    // A real peer: the gateway dials the image store with its own certificate.
    let socket = format!("unix://{}/api.sock", dir.path().display());
    let image_store = format!("tcp://{addr}");
    let mut args = vec!["-H", &socket, "--image-store", &image_store];
    args.extend(tls_flags.iter().map(String::as_str));
    let (_gateway, _) = spawn_service("berth-gateway", &args, "serving the Docker API");
    let listed = tokio::task::spawn_blocking(move || {
        docker_ok(&socket, &["images", "--format", "{{.Repository}}"])
    })
    .await
    .unwrap();
    assert_eq!(
        listed, "",
        "the gateway listed the (empty) store over mutual TLS"
    );
}
