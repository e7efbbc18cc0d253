//! Records the git commit, compiler and build time for `docker version`.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let commit = output("git", &["rev-parse", "--short=12", "HEAD"]);
    let version = output(&rustc, &["--version"]);
    // SOURCE_DATE_EPOCH keeps reproducible builds reproducible.
    let time = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|e| {
            output(
                "date",
                &["-u", "-d", &format!("@{e}"), "+%Y-%m-%dT%H:%M:%SZ"],
            )
        })
        .or_else(|| output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]));
    println!(
        "cargo:rustc-env=BERTH_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=BERTH_RUSTC_VERSION={}",
        version.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=BERTH_BUILD_TIME={}",
        time.as_deref().unwrap_or("unknown")
    );
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
}
