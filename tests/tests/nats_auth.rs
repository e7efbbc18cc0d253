//! NATS authentication between separate service processes (issue #9, finding 5, the
//! distributed shape): whoever reached an unauthenticated NATS could publish a runner
//! heartbeat and steer placement. Here NATS requires a user per service and lets only the
//! runner's publish heartbeats; a service without credentials exits naming the flags,
//! the gateway and a runner work over it, and nobody else gets a heartbeat through.
//! Needs root (the runner), `nats-server` and the docker CLI.

use std::time::Duration;

use berth_bus::heartbeat::RunnerHeartbeat;
use berth_bus::{
    Bus, BusError, Message, NatsBus, NatsCredentials, NatsOptions, NatsTls, Secret, subjects,
};
use berth_testkit::{
    NatsServer, binary, docker, eventually, spawn_service, spawn_service_with_env,
};
use futures::StreamExt;

const RUNNER_PASSWORD: &str = "runner-pw-7f3a";
const GATEWAY_PASSWORD: &str = "gateway-pw-91c2";

/// The per-service permissions that compose/README.md and deploy/README.md show: every
/// service may use the bus, only runners may publish heartbeats.
fn nats_config() -> String {
    format!(
        r#"authorization {{
  users: [
    {{ user: runner, password: "{RUNNER_PASSWORD}" }}
    {{ user: gateway, password: "{GATEWAY_PASSWORD}",
       permissions: {{ publish: {{ deny: ["berth.runners.heartbeat.>"] }} }} }}
  ]
}}"#
    )
}

fn user(name: &str, password: &str) -> NatsOptions {
    NatsOptions {
        credentials: NatsCredentials::UserPassword {
            user: name.to_owned(),
            password: Secret::new(password),
        },
        tls: NatsTls::default(),
    }
}

/// Removes a runner's bridge when the test ends, passed or not.
struct BridgeGuard(String);

impl Drop for BridgeGuard {
    fn drop(&mut self) {
        berth_testkit::remove_bridge(&self.0);
    }
}

#[test]
fn a_service_without_nats_credentials_exits_naming_the_flags() {
    let nats = NatsServer::with_config(&nats_config());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("image-store").display().to_string();
    let wrong = dir.path().join("wrong-password");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let wrong = wrong.display().to_string();
    for (what, extra, names_flags) in [
        ("no credentials", vec![], true),
        (
            "a wrong password",
            vec!["--nats-user", "gateway", "--nats-password-file", &wrong],
            false,
        ),
    ] {
        let mut args = vec![
            "--listen",
            "tcp://127.0.0.1:0",
            "--data-root",
            &data,
            "--nats",
            nats.url(),
        ];
        args.extend(extra);
        let mut child = std::process::Command::new(binary("berth-image-store"))
            .args(&args)
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let status = eventually(
            &format!("berth-image-store with {what} exits"),
            Duration::from_secs(10),
            || child.try_wait().unwrap(),
        );
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success(), "{what}: it must not run: {stderr}");
        assert!(
            stderr.contains("refused to authenticate"),
            "{what}: says why: {stderr}"
        );
        if names_flags {
            assert!(
                stderr.contains("--nats-user") && stderr.contains("--nats-creds"),
                "{what}: names the flags: {stderr}"
            );
        }
        assert!(!stderr.contains("not-the-password"), "{what}: {stderr}");
    }
}

#[tokio::test]
async fn gateway_and_runner_share_an_authenticated_nats_and_nobody_else_sends_heartbeats() {
    let nats = NatsServer::with_config(&nats_config());
    let dir = tempfile::tempdir().unwrap();
    let (bridge, bip) = berth_testkit::unique_bridge();
    let _bridge_removed_even_on_failure = BridgeGuard(bridge.clone());
    let runner_id = format!("nats-auth-runner-{}", std::process::id());
    let runner_socket = format!("unix://{}/runner.sock", dir.path().display());
    let data = dir.path().join("runner").display().to_string();

    // The runner's password comes from the environment, as compose passes it.
    let (_runner, _) = spawn_service_with_env(
        "berth-runner",
        &[
            "--listen",
            &runner_socket,
            "--data-root",
            &data,
            "--runner-id",
            &runner_id,
            "--bridge",
            &bridge,
            "--bip",
            &bip,
            "--nats",
            nats.url(),
            "--nats-user",
            "runner",
        ],
        &[("BERTH_NATS_PASSWORD", RUNNER_PASSWORD)],
        "serving gRPC",
    );
    // The gateway's from a file, as Kubernetes mounts a Secret.
    let password_file = dir.path().join("gateway-password");
    std::fs::write(&password_file, format!("{GATEWAY_PASSWORD}\n")).unwrap();
    let socket = format!("unix://{}/api.sock", dir.path().display());
    let (_gateway, _) = spawn_service(
        "berth-gateway",
        &[
            "-H",
            &socket,
            "--nats",
            nats.url(),
            "--nats-user",
            "gateway",
            "--nats-password-file",
            &password_file.display().to_string(),
        ],
        "serving the Docker API",
    );

    let host = socket.clone();
    let id = tokio::task::spawn_blocking(move || {
        eventually(
            "docker info shows the runner the gateway learnt over NATS",
            Duration::from_secs(20),
            || {
                let out = docker(&host, &["info", "--format", "{{.ID}}"]);
                let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                (out.status.success() && !id.is_empty()).then_some(id)
            },
        )
    })
    .await
    .unwrap();
    assert_eq!(id, runner_id);

    // Attack 1: a process with no credentials, or a guessed password, cannot even connect.
    for (what, options) in [
        ("no credentials", NatsOptions::default()),
        ("a wrong password", user("runner", "guess")),
    ] {
        match NatsBus::connect_with(nats.url(), &options).await {
            Err(BusError::Auth { .. }) => {}
            Err(e) => panic!("{what}: refused for the wrong reason: {e}"),
            Ok(_) => panic!("{what}: connected to the cluster's NATS"),
        }
    }

    // Attack 2: a service that may use the bus, but is no runner, fakes a heartbeat of an
    // idle runner that gateways would prefer. What the gateway subscribes to must never
    // carry it: a marker sent after it on the same connection arrives first.
    let watcher = NatsBus::connect_with(nats.url(), &user("gateway", GATEWAY_PASSWORD))
        .await
        .unwrap();
    let mut seen = watcher.subscribe("berth.runners.>").await.unwrap();
    let forger = NatsBus::connect_with(nats.url(), &user("gateway", GATEWAY_PASSWORD))
        .await
        .unwrap();
    let fake = RunnerHeartbeat {
        runner_id: "forged".into(),
        address: "tcp://203.0.113.1:7104".into(),
        hostname: "forged".into(),
        ncpu: 256,
        mem_total: 1 << 40,
        containers_running: 0,
        interval_ms: 60_000,
        leaving: false,
    };
    let payload = serde_json::to_vec(&fake).unwrap();
    forger
        .publish(Message::new(subjects::runner_heartbeat("forged"), payload))
        .await
        .unwrap();
    forger
        .publish(Message::new(subjects::RUNNER_DISCOVER, "marker"))
        .await
        .unwrap();
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), seen.next())
            .await
            .expect("the marker arrives")
            .expect("subscription open");
        if m.subject == subjects::RUNNER_DISCOVER && m.payload == "marker" {
            break;
        }
        let beat: RunnerHeartbeat = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(
            beat.runner_id, runner_id,
            "only the real runner's heartbeats get through"
        );
    }
    let host = socket.clone();
    let id = tokio::task::spawn_blocking(move || {
        String::from_utf8_lossy(&docker(&host, &["info", "--format", "{{.ID}}"]).stdout)
            .trim()
            .to_owned()
    })
    .await
    .unwrap();
    assert_eq!(id, runner_id, "the gateway still places on the real runner");
}
