//! A throw-away certificate authority made with Debian's `openssl`, for tests of TLS:
//! a CA, a server certificate for 127.0.0.1 and localhost, a client certificate of the
//! CA, and a client certificate of another CA that nobody trusts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::require_tool;

/// The PEM files, in a temporary directory removed on drop.
#[derive(Debug)]
pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    /// Makes every file; panics naming the package when `openssl` is missing.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berth-pki-")
            .tempdir()
            .unwrap();
        let ca = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
        certificate(dir.path(), "ca", None, ca);
        certificate(dir.path(), "rogue-ca", None, ca);
        certificate(
            dir.path(),
            "server",
            Some("ca"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
        );
        for (name, ca) in [("client", "ca"), ("rogue", "rogue-ca")] {
            certificate(dir.path(), name, Some(ca), "extendedKeyUsage=clientAuth\n");
        }
        TestPki { dir }
    }

    /// Makes `NAME.pem` and `NAME-key.pem`: a server certificate of the CA for `ip`.
    pub fn server_for(&self, name: &str, ip: &str) {
        certificate(
            self.dir.path(),
            name,
            Some("ca"),
            &format!("subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth\n"),
        );
    }

    /// `NAME.pem` (certificates: `ca`, `server`, `client`, `rogue`) or `NAME-key.pem`.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// [`TestPki::path`] as a string, for command lines.
    pub fn arg(&self, file: &str) -> String {
        self.path(file).display().to_string()
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new(require_tool("openssl", "openssl"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A P-256 key and a certificate `name`.pem signed by `ca` (self-signed when `None`),
/// with `extensions` (lines of an openssl extension section).
fn certificate(dir: &Path, name: &str, ca: Option<&str>, extensions: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
    let (key, csr, ext, pem) = (
        format!("{name}-key.pem"),
        format!("{name}.csr"),
        format!("{name}.ext"),
        format!("{name}.pem"),
    );
    let subject = format!("/CN=berth-test-{name}");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &subject,
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    let mut args = vec![
        "x509", "-req", "-in", &csr, "-days", "2", "-extfile", &ext, "-out", &pem,
    ];
    let (ca_pem, ca_key) = ca
        .map(|ca| (format!("{ca}.pem"), format!("{ca}-key.pem")))
        .unwrap_or_default();
    match ca {
        Some(_) => args.extend(["-CA", &ca_pem, "-CAkey", &ca_key, "-CAcreateserial"]),
        None => args.extend(["-key", &key]),
    }
    openssl(dir, &args);
}
