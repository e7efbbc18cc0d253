//! Each service binary alone: it explains itself (`--help`), answers gRPC health for its
//! service, and stops cleanly within 2 s of SIGTERM.

use std::time::Duration;

use berth_rpc::Endpoint;
use berth_testkit::{binary, spawn_service};
use nix::sys::signal::Signal;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const SERVICES: &[(&str, &str)] = &[
    ("berth-image-store", "berth.v1.ImageStore"),
    ("berth-registry-proxy", "berth.v1.RegistryProxy"),
    ("berth-builder", "berth.v1.Builder"),
    ("berth-runner", "berth.v1.Runner"),
];

#[test]
fn every_binary_explains_its_flags() {
    for name in SERVICES
        .iter()
        .map(|(n, _)| *n)
        .chain(["berth-gateway", "berthd"])
    {
        let out = std::process::Command::new(binary(name))
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{name} --help failed");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Usage:"), "{name}: {help}");
        let out = std::process::Command::new(binary(name))
            .arg("--no-such-flag")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name} rejects unknown flags");
    }
}

/// The gRPC address a service logged when it started listening.
fn logged_endpoint(line: &str) -> Endpoint {
    let addr = line
        .split("endpoint=")
        .nth(1)
        .expect("the line names the endpoint")
        .split_whitespace()
        .next()
        .unwrap();
    addr.parse().expect("a valid endpoint")
}

async fn health(endpoint: &Endpoint, service: &str) -> ServingStatus {
    let mut client = HealthClient::new(berth_rpc::connect(endpoint).unwrap());
    let status = client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("health answers")
        .into_inner()
        .status;
    ServingStatus::try_from(status).unwrap()
}

#[tokio::test]
async fn each_service_serves_health_and_stops_on_sigterm() {
    for (name, grpc_service) in SERVICES {
        let dir = tempfile_dir(name);
        let data = dir.join("data");
        let data = data.to_str().unwrap();
        let mut args = vec!["--listen", "tcp://127.0.0.1:0"];
        // A runner makes its bridge at start: give it one of the test's own.
        let (bridge, bip) = berth_testkit::unique_bridge();
        let _bridge_removed_even_on_failure = BridgeGuard(bridge.clone());
        match *name {
            "berth-runner" => {
                args.extend(["--data-root", data, "--bridge", &bridge, "--bip", &bip])
            }
            "berth-image-store" => args.extend(["--data-root", data]),
            "berth-builder" => args.extend(["--scratch", data]),
            _ => {}
        }
        let (mut process, line) = spawn_service(name, &args, "serving gRPC");
        let endpoint = logged_endpoint(&line);

        assert_eq!(
            health(&endpoint, grpc_service).await,
            ServingStatus::Serving,
            "{name}"
        );
        assert_eq!(
            health(&endpoint, "").await,
            ServingStatus::Serving,
            "{name}"
        );
        let mut client = HealthClient::new(berth_rpc::connect(&endpoint).unwrap());
        let unknown = client
            .check(HealthCheckRequest {
                service: "berth.v1.NoSuchService".into(),
            })
            .await
            .expect_err("unknown services are not reported healthy");
        assert_eq!(unknown.code(), tonic::Code::NotFound, "{name}");

        let status = tokio::task::spawn_blocking(move || {
            process.signal_and_wait(Signal::SIGTERM, Duration::from_secs(2))
        })
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{name} did not stop within 2 s of SIGTERM"));
        assert!(status.success(), "{name} exited with {status:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[tokio::test]
async fn the_gateway_serves_health_and_the_api_alone() {
    let dir = tempfile_dir("gateway");
    let socket = format!("unix://{}/api.sock", dir.display());
    let (mut process, line) = spawn_service(
        "berth-gateway",
        &["-H", &socket, "--health-listen", "tcp://127.0.0.1:0"],
        "serving gRPC",
    );
    let endpoint = logged_endpoint(&line);
    assert_eq!(health(&endpoint, "").await, ServingStatus::Serving);
    let status = tokio::task::spawn_blocking(move || {
        process.signal_and_wait(Signal::SIGTERM, Duration::from_secs(2))
    })
    .await
    .unwrap()
    .expect("the gateway stops within 2 s of SIGTERM");
    assert!(status.success());
    assert!(
        !dir.join("api.sock").exists(),
        "the socket is removed on stop"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes a runner's bridge when the test ends, passed or not.
struct BridgeGuard(String);

impl Drop for BridgeGuard {
    fn drop(&mut self) {
        berth_testkit::remove_bridge(&self.0);
    }
}
