//! berth-runtime runs one container from an OCI runtime spec and supervises it.
//!
//! - [`spec`] turns berth's [`ContainerConfig`] (Docker's create fields) into the OCI spec
//!   Docker would produce: environment, user, mounts, masked paths, capabilities,
//!   seccomp, namespaces, cgroup limits, and Docker's create warnings.
//! - [`cgroups`] knows the host's cgroup layout (v1, v2, hybrid), reads stats and removes
//!   container cgroups.
//! - [`berth_monitor`] (its own crate) is `berth-monitor`, the small per-container
//!   process that owns the container's stdio and logs, reaps it, records its exit, serves
//!   attach/exec, and outlives the runner.
//! - [`spawn`] is `berth-spawn`, the short-lived helper the monitor runs to create, start
//!   and exec through libcontainer. It runs only from a sealed in-memory copy of itself,
//!   so a container can never reach the host's binary (CVE-2019-5736, see
//!   [`spawn::sealed_exe`]).
//! - [`Runtime`] is the blocking API the runner calls (from `spawn_blocking`).
//!
//! # Why youki's libcontainer
//!
//! Namespaces, pivot_root, mount propagation, /dev setup, capability dropping, seccomp
//! (through libseccomp), rlimits, cgroups v1/v2/hybrid and the freezer are where container
//! runtimes have had their CVEs (runc's /proc/self/exe overwrite, console and /dev/pts
//! races, masked path bypasses). libcontainer 0.7 already carries most fixes runc carries
//! and runs on this hybrid host where crun refuses to, so berth delegates all of it and
//! only decides *what* to ask for. Its default `libseccomp` feature is kept on purpose:
//! without it a seccomp profile is silently ignored. Two consequences shape this crate:
//!
//! 1. libcontainer clones the calling process (and `chdir`s for socket paths), so it is
//!    only ever called from the single-threaded `berth-spawn`, never from the tokio runner
//!    (whose [`Runtime`] only loads container state for pause, resume and delete).
//! 2. Known libcontainer 0.7 differences are handled here, not hidden: it reads
//!    `SCMP_CMP_MASKED_EQ` as `(arg & valueTwo) == value` (runc: `(arg & value) ==
//!    valueTwo`), so berth's profile is written for libcontainer and
//!    [`spec::seccomp::masked_eq_for_runc`] converts it for runc; its tenant (exec)
//!    builder drops `linux.seccomp`, so berth-spawn installs the container's filter in
//!    exec'd processes itself (setting no_new_privs to be allowed to); and it installs
//!    seccomp too late when `noNewPrivileges` is `false` rather than absent, so berth
//!    leaves it absent unless it is `true`. It does not protect its own executable from
//!    the container (runc's memfd re-exec), so berth-spawn does; it looks an empty
//!    `HOME` up through NSS inside the container, so berth always sets one; and with no
//!    PID namespace on cgroup v1 it bind-mounts a wrong hierarchy path, so such
//!    containers get a cgroup namespace.
//!
//! # What is not done (yet)
//!
//! - On cgroup v2 hosts the device allowlist needs libcgroups' eBPF feature, which is not
//!   built; the spec then withholds CAP_MKNOD and says so in a warning.
//! - `--privileged` does not expose the host's devices.

pub mod cgroups;
pub mod config;
pub mod error;
mod runtime;
pub mod security_opt;
pub mod spawn;
pub mod spec;
pub mod state;

pub use berth_monitor::protocol::ExecConfig;
pub use cgroups::CgroupStats;
pub use config::{ContainerConfig, Device, EngineFile, LogConfig, NetworkMode, Resources, Ulimit};
pub use error::{Error, Result};
pub use runtime::{
    ContainerHandle, ContainerState, Frame, MONITOR_BINARY, Runtime, Session, Status, StdinWriter,
    locate_helpers,
};
pub use security_opt::SecurityOpts;
pub use state::ExitRecord;
