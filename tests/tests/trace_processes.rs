//! One Docker API call is one trace across real processes: the gateway and the image
//! store run as separate binaries, each exporting to a collector this test runs, and
//! `GET /images/json` must arrive as http.request -> grpc.client -> grpc.server, linked
//! by parent IDs across the process boundary.

use std::process::Command;
use std::time::Duration;

use berth_testkit::otlp::{SpanKind, start_collector};
use berth_testkit::{require_tool, spawn_service_with_env};
use nix::sys::signal::Signal;

const LIST: &str = "/berth.v1.ImageStore/ListImages";

#[tokio::test]
async fn a_docker_api_call_is_one_trace_across_processes() {
    let (collector, mut received) = start_collector().await.unwrap();
    let otlp = format!("http://{collector}");
    let dir = tempfile::tempdir().unwrap();
    let store_sock = format!("unix://{}/store.sock", dir.path().display());
    let api_sock = dir.path().join("api.sock");
    let data = dir.path().join("data");

    let (mut store, _) = spawn_service_with_env(
        "berth-image-store",
        &[
            "--listen",
            &store_sock,
            "--data-root",
            data.to_str().unwrap(),
        ],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp),
            ("OTEL_SERVICE_NAME", "image-store"),
        ],
        "serving gRPC",
    );
    let (mut gateway, _) = spawn_service_with_env(
        "berth-gateway",
        &[
            "-H",
            &format!("unix://{}", api_sock.display()),
            "--image-store",
            &store_sock,
        ],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp),
            ("OTEL_SERVICE_NAME", "gateway"),
        ],
        "serving the Docker API",
    );

    let out = Command::new(require_tool("curl", "curl"))
        .args(["-sf", "--unix-socket"])
        .arg(&api_sock)
        .arg("http://berth/v1.47/images/json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]");

    // A clean stop flushes each process's last spans.
    let stop = |p: &mut berth_testkit::ChildGuard| {
        p.signal_and_wait(Signal::SIGTERM, Duration::from_secs(10))
            .expect("stops on SIGTERM")
    };
    let (g, s) = tokio::task::spawn_blocking(move || (stop(&mut gateway), stop(&mut store)))
        .await
        .unwrap();
    assert!(g.success() && s.success());

    let spans = tokio::time::timeout(
        Duration::from_secs(20),
        received.wait_for(|all| {
            all.iter()
                .any(|s| s.name == LIST && s.kind == SpanKind::Server)
                && all
                    .iter()
                    .any(|s| s.name == "GET /v1.47/images/json" || s.name == "GET /images/json")
        }),
    )
    .await
    .expect("both processes exported their spans")
    .unwrap()
    .clone();
    let root = spans
        .iter()
        .find(|s| s.name.starts_with("GET ") && s.name.ends_with("/images/json"))
        .unwrap();
    let client = spans
        .iter()
        .find(|s| s.name == LIST && s.kind == SpanKind::Client)
        .expect("the gateway's call");
    let server = spans
        .iter()
        .find(|s| s.name == LIST && s.kind == SpanKind::Server)
        .expect("the store's side");
    assert!(
        root.parent_span_id.is_empty(),
        "the API call is the root: {root:?}"
    );
    assert_eq!(client.parent_span_id, root.span_id, "{spans:#?}");
    assert_eq!(
        server.parent_span_id, client.span_id,
        "the store continues the gateway's trace: {spans:#?}"
    );
    for s in [client, server] {
        assert_eq!(s.trace_id, root.trace_id);
    }
}
