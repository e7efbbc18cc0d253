//! `docker system prune` and `docker builder prune` through the real docker CLI against
//! berthd: every plain prune ends in `POST /build/prune`, which must answer even while
//! berth has no build cache, and bad prune requests must still be refused. Needs root,
//! the docker CLI and Debian's busybox-static.

use berth_testkit::{Berthd, docker_fails, docker_ok};

fn ok(host: &str, args: &str) -> String {
    docker_ok(host, &args.split(' ').collect::<Vec<_>>())
}

fn lines(host: &str, args: &str) -> Vec<String> {
    ok(host, args).lines().map(str::to_owned).collect()
}

#[test]
fn system_prune_takes_what_is_unused_and_succeeds() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    // One of each thing a prune takes, and one of each it must leave.
    ok(&host, "run --name stopped -v /anon busybox true");
    ok(&host, "run -d --name running busybox sleep 600");
    ok(&host, "network create unused-net");
    ok(&host, "volume create unused-vol");
    ok(&host, "tag busybox:latest spare:1");

    let printed = ok(&host, "system prune -f");
    assert!(printed.contains("Total reclaimed space"), "{printed}");
    assert_eq!(lines(&host, "ps -a --format {{.Names}}"), ["running"]);
    assert!(
        !ok(&host, "network ls --format {{.Name}}").contains("unused-net"),
        "the unused network was pruned"
    );
    // Without --volumes, system prune leaves volumes; without -a, tagged images.
    assert!(ok(&host, "volume ls -q").contains("unused-vol"));
    assert!(ok(&host, "images --format {{.Repository}}").contains("spare"));

    ok(&host, "rm -f running");
    let printed = ok(&host, "system prune -af --volumes");
    assert!(printed.contains("Total reclaimed space"), "{printed}");
    assert!(lines(&host, "ps -aq").is_empty());
    // As with Docker (API 1.42+), --volumes takes anonymous volumes only.
    assert_eq!(
        lines(&host, "volume ls -q"),
        ["unused-vol"],
        "anonymous volume pruned"
    );
    assert!(
        lines(&host, "images -q").is_empty(),
        "every image was unused"
    );
}

#[test]
fn builder_prune_answers_and_refuses_bad_requests() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let printed = ok(&host, "builder prune -f");
    assert!(
        printed.contains("Total:") || printed.contains("reclaimed"),
        "{printed}"
    );
    ok(&host, "builder prune -af --filter until=24h");
    let err = docker_fails(&host, &["builder", "prune", "-f", "--filter", "colour=red"]);
    assert!(err.contains("invalid filter 'colour'"), "{err}");
    let err = docker_fails(&host, &["builder", "prune", "-f", "--filter", "until=soon"]);
    assert!(err.contains("invalid until value"), "{err}");
}
