//! Fixtures for berth's tests that start real things: a `nats-server`, berth's own
//! binaries. Every fixture is owned by one test and torn down on drop, even when the test
//! fails, so tests run in parallel without sharing ports, directories or processes.
//!
//! A fixture that needs a tool fails loudly with the package to install; it never skips.

mod berth_process;
mod binary;
mod busybox;
mod child;
mod docker_cli;
mod nats;
pub mod otlp;
mod pki;
mod registry;

pub use berth_process::{
    Berthd, CgroupView, remove_bridge, remove_bridges_within, spawn_service,
    spawn_service_with_env, unique_bridge, unique_network_pool,
};
pub use binary::binary;
pub use busybox::{BusyboxImage, busybox_archive};
pub use child::{ChildGuard, wait_for_line};
pub use docker_cli::{
    docker, docker_command, docker_fails, docker_ok, events_between, events_time, printed,
};
pub use nats::NatsServer;
pub use pki::TestPki;
pub use registry::{BASIC_PASSWORD, BASIC_USER, DockerRegistry};

/// Panics with a message saying which Debian package provides a missing tool.
pub fn require_tool(tool: &str, debian_package: &str) -> std::path::PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "this test needs `{tool}`: apt-get install {debian_package} \
             (the README's test command installs it)"
        )
    })
}

/// Polls `check` until it returns `Some` and returns that, or panics after `timeout`
/// saying what never happened. For states that other processes reach on their own time
/// (a restart policy, an exit): the test waits for the state itself, never a fixed time.
pub fn eventually<T>(
    what: &str,
    timeout: std::time::Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
