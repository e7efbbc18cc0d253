//! berth's cache of compiled seccomp programs: one file per distinct profile, in the
//! runtime root's `.seccomp/`, named by a hash of the profile, berth's and libseccomp's
//! versions and the kernel (which together decide the program). The first container of a profile pays
//! for libseccomp's compilation and stores the program; every later container and exec
//! loads it as it is (see the `libseccomp-sys` crate for how).
//!
//! The cache is trusted as the rest of the runtime root is: root's alone (0700). A file
//! that is no program is removed and compiled again; any other failure only means
//! compiling as before.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use libseccomp_sys::cache::{Capture, Compiled};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use sha2::{Digest, Sha256};

/// The cache's directory under the runtime root: a name no container id can take.
pub const DIR: &str = ".seccomp";

/// What berth-spawn holds while libcontainer creates a process.
pub(super) enum Held {
    Nothing,
    Compiled(Compiled),
    Capturing { capture: Capture, path: PathBuf },
}

/// Before libcontainer builds the filter of `profile`: hold the compiled program when the
/// cache has it; otherwise, with `capture`, get ready to keep what libseccomp compiles.
pub(super) fn prepare(runtime_root: &Path, profile: Option<&LinuxSeccomp>, capture: bool) -> Held {
    let Some(profile) = profile.filter(|p| !uses_notify(p)) else {
        return Held::Nothing;
    };
    let path = entry(runtime_root, profile);
    if let Ok(program) = std::fs::read(&path) {
        match Compiled::hold(&program) {
            Ok(held) => return Held::Compiled(held),
            Err(e) => {
                eprintln!("berth-spawn: dropping {}: {e}", path.display());
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    match capture.then(Capture::start) {
        Some(Ok(capture)) => Held::Capturing { capture, path },
        _ => Held::Nothing,
    }
}

/// After libcontainer returned: store what was captured.
pub(super) fn finish(held: Held) {
    if let Held::Capturing { capture, path } = held
        && let Some(program) = capture.program()
    {
        let _ = store(&path, &program);
    }
}

/// A user-notification profile hands a descriptor to a listener at load time: that is
/// libseccomp's to do, so such profiles are not cached.
fn uses_notify(profile: &LinuxSeccomp) -> bool {
    profile.listener_path().is_some()
        || profile.default_action() == LinuxSeccompAction::ScmpActNotify
        || profile
            .syscalls()
            .iter()
            .flatten()
            .any(|s| s.action() == LinuxSeccompAction::ScmpActNotify)
}

/// The cache file of `profile` on this host.
fn entry(runtime_root: &Path, profile: &LinuxSeccomp) -> PathBuf {
    let mut key = Sha256::new();
    // The program also depends on how libcontainer turns the profile into libseccomp
    // calls: berth's version changes with every release that could change that (bump
    // the v1 for a libcontainer upgrade between releases).
    key.update(b"berth seccomp program v1\n");
    key.update(env!("CARGO_PKG_VERSION").as_bytes());
    key.update(b"\n");
    key.update(serde_json::to_vec(profile).unwrap_or_default());
    let (major, minor, micro) = libseccomp_sys::cache::library_version();
    key.update(format!("\nlibseccomp {major}.{minor}.{micro}\n").as_bytes());
    if let Ok(uname) = nix::sys::utsname::uname() {
        key.update(uname.release().as_encoded_bytes());
        key.update(b"\n");
        key.update(uname.machine().as_encoded_bytes());
    }
    runtime_root
        .join(DIR)
        .join(format!("{}.bpf", hex::encode(key.finalize())))
}

/// Writes `program` to `path` whole or not at all: a temporary file, then a rename.
fn store(path: &Path, program: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = file.write_all(program);
    drop(file);
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
