//! berth-spawn runs only from a sealed in-memory copy of itself (the CVE-2019-5736 class,
//! defended as runc 1.0-1.1 did).
//!
//! libcontainer clones berth-spawn into the container's namespaces, and an exec'd
//! command whose interpreter is `#!/proc/self/exe` runs berth-spawn's own executable
//! inside the container. A process there can open that executable through
//! `/proc/<pid>/exe` (or an `O_PATH` descriptor of it, reopened once berth-spawn has
//! exited) and, without this module, would write to the host's binary: every later
//! container would then run the attacker's code as root on the host. So before doing
//! anything, berth-spawn copies itself into a memfd, seals it against every change
//! (`F_SEAL_SEAL|SHRINK|GROW|WRITE`) and re-executes from it: what the container can reach
//! is a sealed anonymous file, not the host's binary. The seals are the marker that stops
//! the loop: a process already running from a sealed memfd carries on.
//!
//! Libraries: berth-spawn links libseccomp, libc, libm and libgcc_s dynamically. The
//! dynamic loader maps them at exec, in the host's mount namespace, before any setns, and
//! nothing is loaded later: libcontainer 0.7 does no dlopen, and the one NSS lookup it
//! makes after entering the container (getpwuid for a missing or empty `HOME`, which
//! would load the image's `libnss_*.so` into this process) never happens because berth
//! always sets a non-empty `HOME` (see `spec::ensure_home`). The host's libraries that
//! stay mapped are reachable only through `/proc/<pid>/map_files`, which needs
//! CAP_SYS_ADMIN (a privileged container, which owns the host anyway).

use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

use nix::fcntl::{FcntlArg, SealFlag, fcntl};

use crate::error::{Error, Result};

/// The seals a runnable copy carries; writing, growing, shrinking and re-sealing are
/// all refused by the kernel once they are set.
fn seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// Whether `file` is a memfd sealed against writing, growing, shrinking and resealing.
pub fn is_sealed(file: &impl AsRawFd) -> bool {
    fcntl(file.as_raw_fd(), FcntlArg::F_GET_SEALS)
        .ok()
        .and_then(SealFlag::from_bits)
        .is_some_and(|s| s.contains(seals()))
}

/// Returns when this process runs from a sealed copy of its executable; otherwise makes
/// one and re-executes from it, with the same arguments, environment and descriptors
/// (only errors return from there).
pub fn ensure() -> Result<()> {
    let exe = File::open("/proc/self/exe").map_err(|e| Error::io("opening /proc/self/exe", e))?;
    if is_sealed(&exe) {
        return Ok(());
    }
    let copy = sealed_copy(exe)?;
    let args: Vec<CString> = std::env::args_os().map(c_string).collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            c_string(kv)
        })
        .collect();
    // execveat(AT_EMPTY_PATH) runs the descriptor itself; close-on-exec is fine for an
    // ELF binary, which the kernel has opened before it closes descriptors.
    let err = nix::unistd::execveat(
        Some(copy.as_raw_fd()),
        c"",
        &args,
        &env,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .unwrap_err();
    Err(Error::sys(
        "re-executing berth-spawn from its sealed copy",
        err,
    ))
}

fn c_string(s: OsString) -> CString {
    // Arguments and environment come from the kernel, which cannot hold interior NULs.
    CString::new(s.into_vec()).unwrap_or_default()
}

/// Copies `exe` into a new memfd and seals it.
pub fn sealed_copy(mut exe: File) -> Result<OwnedFd> {
    let memfd = memfd_create()?;
    let mut file = File::from(memfd);
    std::io::copy(&mut exe, &mut file)
        .map_err(|e| Error::io("copying berth-spawn into a memfd", e))?;
    fcntl(file.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals()))
        .map_err(|e| Error::sys("sealing berth-spawn's memfd", e))?;
    Ok(OwnedFd::from(file))
}

fn memfd_create() -> Result<OwnedFd> {
    let name = c"berth-spawn";
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // Kernels since 6.3 want executable memfds marked as such (and refuse them when
    // vm.memfd_noexec=2); older ones reject the flag with EINVAL.
    for flags in [flags | libc::MFD_EXEC, flags] {
        // SAFETY: memfd_create takes a NUL-terminated name and flags and returns a new
        // descriptor or -1.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: memfd_create just returned this descriptor; we own it alone.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let err = nix::errno::Errno::last();
        if err != nix::errno::Errno::EINVAL {
            return Err(Error::sys("creating a memfd for berth-spawn", err));
        }
    }
    Err(Error::sys(
        "creating a memfd for berth-spawn",
        nix::errno::Errno::EINVAL,
    ))
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, Write};
    use std::os::unix::fs::FileExt;

    use super::*;

    #[test]
    fn a_sealed_copy_refuses_every_change() {
        let mut src = tempfile::tempfile().unwrap();
        src.write_all(b"\x7fELF pretend binary").unwrap();
        src.rewind().unwrap();
        assert!(!is_sealed(&src), "a plain file carries no seals");
        let copy = File::from(sealed_copy(src).unwrap());
        assert!(is_sealed(&copy));
        let mut buf = [0u8; 4];
        copy.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"\x7fELF");
        let err = copy.write_at(b"PWND", 0).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
        assert!(copy.set_len(1).is_err(), "shrinking is sealed");
        assert!(copy.set_len(1 << 20).is_err(), "growing is sealed");
        // Reopened through /proc, as a process in a container would: still read-only.
        let path = format!("/proc/self/fd/{}", copy.as_raw_fd());
        if let Ok(mut w) = std::fs::OpenOptions::new().write(true).open(&path) {
            assert!(w.write_all(b"PWND").is_err());
        }
    }
}
