//! A real registry for one test: Debian's `docker-registry` (distribution 2.8), storing in
//! a temporary directory, on a port the kernel picks.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{ChildGuard, require_tool, wait_for_line};

/// A running registry; stopped and its storage removed on drop.
#[derive(Debug)]
pub struct DockerRegistry {
    host: String,
    _process: ChildGuard,
    _dir: tempfile::TempDir,
    _auth: Option<tempfile::TempDir>,
}

/// The user of [`DockerRegistry::with_basic_auth`].
pub const BASIC_USER: &str = "user";
/// Their password.
pub const BASIC_PASSWORD: &str = "secret";

impl DockerRegistry {
    /// Starts an anonymous plain-HTTP registry on 127.0.0.1; returns once it listens. The
    /// port is read from its own log, so no other test can take it in between.
    pub fn start() -> Self {
        Self::with_config("")
    }

    /// [`DockerRegistry::start`] with more configuration (YAML at the top level, e.g. an
    /// `auth:` section); storage and address stay the fixture's.
    pub fn with_config(extra: &str) -> Self {
        Self::launch(None, "127.0.0.1:0", extra)
    }

    /// A registry serving TLS with `cert` and `key` on `addr` inside the network
    /// namespace `netns` (made by the test; `ip netns exec` enters it).
    pub fn tls_in_netns(netns: &str, addr: &str, cert: &Path, key: &Path) -> Self {
        let tls = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        );
        Self::launch(Some(netns), addr, &tls)
    }

    /// `extra` goes at the end of the `http:` section when it is indented, at the top
    /// level otherwise.
    fn launch(netns: Option<&str>, addr: &str, extra: &str) -> Self {
        let bin = require_tool("docker-registry", "docker-registry");
        let dir = tempfile::tempdir().expect("temporary registry directory");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{extra}",
                dir.path().join("data").display()
            ),
        )
        .expect("write the registry's config");
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new(require_tool("ip", "iproute2"));
                c.args(["netns", "exec", ns]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = command
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start docker-registry");
        let stderr = child.stderr.take().expect("piped stderr");
        let guard = ChildGuard::new("docker-registry", child);
        let line = wait_for_line(
            "docker-registry",
            stderr,
            "listening on",
            Duration::from_secs(20),
        )
        .unwrap_or_else(|e| panic!("docker-registry did not start: {e}"));
        let host = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(['"', ',']).next())
            .expect("the address after \"listening on\"")
            .to_owned();
        DockerRegistry {
            host,
            _process: guard,
            _dir: dir,
            _auth: None,
        }
    }

    /// A registry that wants Basic auth: [`BASIC_USER`] with [`BASIC_PASSWORD`].
    pub fn with_basic_auth() -> Self {
        let dir = tempfile::tempdir().expect("temporary htpasswd directory");
        let htpasswd = dir.path().join("htpasswd");
        // bcrypt (cost 5) of BASIC_PASSWORD, the only hash distribution's htpasswd takes.
        std::fs::write(
            &htpasswd,
            format!("{BASIC_USER}:$2a$05$vApSoT8JoACMxzAKyNch9ORO7HSGI3DRU.rwo/oY9oM8Aylh12GSq\n"),
        )
        .expect("write htpasswd");
        let mut registry = Self::with_config(&format!(
            "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
            htpasswd.display()
        ));
        registry._auth = Some(dir);
        registry
    }

    /// `127.0.0.1:PORT`, as references name it.
    pub fn host(&self) -> &str {
        &self.host
    }
}
