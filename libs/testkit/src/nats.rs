//! A real `nats-server` with JetStream, on a port the kernel picks, for one test.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{ChildGuard, require_tool, wait_for_line};

/// A running `nats-server`; stopped and its store removed on drop.
#[derive(Debug)]
pub struct NatsServer {
    url: String,
    _process: ChildGuard,
    _store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts a server on 127.0.0.1 and a random free port (`-p -1`), and returns once the
    /// server says it listens: the port is read from its own log, so there is no window in
    /// which another test could take it.
    pub fn start() -> Self {
        Self::spawn(None)
    }

    /// [`NatsServer::start`] with a configuration file made of `config`, e.g. an
    /// `authorization { ... }` or `tls { ... }` block; the address, port and JetStream
    /// store stay the fixture's.
    pub fn with_config(config: &str) -> Self {
        Self::spawn(Some(config))
    }

    fn spawn(config: Option<&str>) -> Self {
        let bin = require_tool("nats-server", "nats-server");
        let store = tempfile::tempdir().expect("temporary JetStream directory");
        let mut command = Command::new(bin);
        if let Some(config) = config {
            let file = store.path().join("nats-server.conf");
            std::fs::write(&file, config).expect("write nats-server.conf");
            command.arg("-c").arg(file);
        }
        let mut child = command
            .args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nats-server");
        let stderr = child.stderr.take().expect("piped stderr");
        let guard = ChildGuard::new("nats-server", child);
        let line = wait_for_line(
            "nats-server",
            stderr,
            "Listening for client connections on",
            Duration::from_secs(20),
        )
        .unwrap_or_else(|e| panic!("nats-server did not start: {e}"));
        let addr = line
            .rsplit(' ')
            .next()
            .expect("address at the end of the line")
            .trim()
            .to_owned();
        NatsServer {
            url: format!("nats://{addr}"),
            _process: guard,
            _store: store,
        }
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `tls://127.0.0.1:PORT`: the same server, for a client that must use TLS.
    pub fn tls_url(&self) -> String {
        self.url.replacen("nats://", "tls://", 1)
    }
}
