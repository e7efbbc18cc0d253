//! Issue #9, finding 9: a restarted runner serves at once and re-adopts its containers
//! in parallel; it used to re-adopt them one by one before listening, so the pool saw
//! no runner for as long as that took (44 s for 201 containers).

use std::time::Duration;

use berth_testkit::{Berthd, docker, docker_ok, eventually, printed};

const CONTAINERS: usize = 30;

fn running(host: &str) -> Result<usize, String> {
    let out = docker(host, &["ps", "-q", "--filter", "status=running"]);
    if !out.status.success() {
        return Err(printed(&out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().count())
}

#[test]
fn a_crashed_berthd_serves_before_its_containers_are_all_readopted() {
    let mut berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let ids: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..CONTAINERS)
            .map(|i| {
                let host = host.clone();
                s.spawn(move || {
                    let name = format!("c{i:02}");
                    docker_ok(
                        &host,
                        &[
                            "run",
                            "-d",
                            "--restart",
                            "always",
                            "--name",
                            &name,
                            "busybox",
                            "sleep",
                            "600",
                        ],
                    )
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(running(&host).unwrap(), CONTAINERS);
    let pids: Vec<i32> = ids
        .iter()
        .map(|id| {
            docker_ok(&host, &["inspect", "-f", "{{.State.Pid}}", id])
                .parse()
                .unwrap()
        })
        .collect();

    // While berthd is down every container dies: re-adopting them means starting all
    // 30 again under their restart policy, which takes a while whatever the machine.
    berthd.crash_and_restart_after(|| {
        for pid in &pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        eventually("every container is dead", Duration::from_secs(20), || {
            pids.iter()
                .all(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
                .then_some(())
        });
    });
    // berthd is ready (the runner announced itself): it answers now, before the
    // re-adoption has brought every container back.
    let first = running(&host).expect("the runner answers during re-adoption");
    assert!(
        first < CONTAINERS,
        "docker ps answered only once all {CONTAINERS} containers were back"
    );
    eventually(
        "every container runs again",
        Duration::from_secs(60),
        || (running(&host).ok()? == CONTAINERS).then_some(()),
    );
    // Re-adopted, not just listed: the new process notices an exit.
    docker_ok(&host, &["stop", "-t", "0", &ids[7]]);
    assert_eq!(docker_ok(&host, &["wait", &ids[7]]), "137");
    assert_eq!(running(&host).unwrap(), CONTAINERS - 1);
}
