//! `docker events` through a gateway, with events arriving over a real NATS bus, as they
//! do when the services run apart: the past is replayed from JetStream (`--since`), then
//! live events follow; `--until` ends the stream; filters select.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use berth_bus::event::{Event, EventKind};
use berth_bus::{BusExt, NatsBus};
use berth_testkit::{NatsServer, docker, docker_command, printed, spawn_service};

fn unix(t: SystemTime) -> String {
    berth_testkit::events_time(t)
}

struct Gateway {
    _process: berth_testkit::ChildGuard,
    host: String,
    _dir: tempfile::TempDir,
}

fn gateway(nats: &NatsServer) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}/api.sock", dir.path().display());
    let (process, _) = spawn_service(
        "berth-gateway",
        &["-H", &host, "--nats", nats.url()],
        "serving the Docker API",
    );
    Gateway {
        _process: process,
        host,
        _dir: dir,
    }
}

#[tokio::test]
async fn docker_events_replays_filters_and_ends_at_until() {
    let nats = NatsServer::start();
    let bus = NatsBus::connect(nats.url()).await.unwrap();
    let gw = gateway(&nats);

    let before = SystemTime::now();
    bus.emit(
        &Event::now(EventKind::Image, "tag", "sha256:aaa").with_attribute("name", "busybox:latest"),
    )
    .await
    .unwrap();
    bus.emit(&Event::now(EventKind::Container, "start", "c0ffee").with_attribute("name", "kuard"))
        .await
        .unwrap();
    bus.emit(&Event::now(EventKind::Image, "untag", "sha256:bbb").with_attribute("name", "app:1"))
        .await
        .unwrap();
    let after = SystemTime::now();

    let since = unix(before);
    let until = unix(after);
    let host = gw.host.clone();
    let out = tokio::task::spawn_blocking(move || {
        docker(
            &host,
            &[
                "events",
                "--since",
                &since,
                "--until",
                &until,
                "--format",
                "{{json .}}",
            ],
        )
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", printed(&out));
    let events: Vec<Event> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one event"))
        .collect();
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        seen,
        [("image", "tag"), ("container", "start"), ("image", "untag")]
    );
    assert_eq!(events[1].actor.attributes["name"], "kuard");

    let (since, until) = (unix(before), unix(after));
    let host = gw.host.clone();
    let out = tokio::task::spawn_blocking(move || {
        docker(
            &host,
            &[
                "events",
                "--since",
                &since,
                "--until",
                &until,
                "--filter",
                "type=image",
                "--filter",
                "event=untag",
                "--format",
                "{{.Actor.ID}}",
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "sha256:bbb",
        "{}",
        printed(&out)
    );

    let host = gw.host.clone();
    let out = tokio::task::spawn_blocking(move || {
        docker(
            &host,
            &[
                "events",
                "--since",
                "1",
                "--until",
                "2",
                "--filter",
                "tpye=image",
            ],
        )
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(
        printed(&out).contains("invalid filter 'tpye'"),
        "{}",
        printed(&out)
    );
}

#[tokio::test]
async fn docker_events_follows_live_events() {
    let nats = NatsServer::start();
    let bus = NatsBus::connect(nats.url()).await.unwrap();
    let gw = gateway(&nats);

    // --since now: whatever is emitted after this point is seen, whether the gateway reads
    // it from the replay or live, so there is no race with its subscription.
    let since = unix(SystemTime::now());
    let mut follower = docker_command(&gw.host)
        .args([
            "events",
            "--since",
            &since,
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.ID}}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    for i in 0..3 {
        bus.emit(&Event::now(EventKind::Volume, "create", format!("vol{i}")))
            .await
            .unwrap();
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the event is followed live");
        assert_eq!(line, format!("volume create vol{i}"));
    }
    let _ = follower.kill();
    let _ = follower.wait();
}
