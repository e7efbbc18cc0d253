//! libseccomp's C API, as crates.io's `libseccomp-sys` 0.3 offers it to the `libseccomp`
//! crate, plus one thing berth needs: a cache of compiled filters.
//!
//! Why this crate exists. youki's libcontainer compiles each container's seccomp profile
//! with libseccomp inside the container's init, between its set-up and the exec. For
//! Docker's default profile (about 400 calls, for x86_64, x86 and x32) libseccomp spends
//! 10-20 ms adding the rules and generating the BPF program, for every container and
//! every exec, although a host's containers share a handful of distinct profiles.
//! libcontainer takes no compiled filter, and the filter can only be loaded where it loads
//! it (before it drops CAP_SYS_ADMIN, for a container without no_new_privs), so the cache
//! sits under libcontainer, in the C API it calls. The workspace's `[patch.crates-io]`
//! puts this crate in the place of crates.io's.
//!
//! How. Before libcontainer creates a process, berth-spawn chooses one of:
//! - [`cache::Compiled`]: the profile's program, from berth's cache. Every filter
//!   libcontainer then builds is a stand-in that only records the attributes that change
//!   how a filter is loaded (no_new_privs, TSYNC, LOG, SSB), and `seccomp_load` installs
//!   the cached program with the `seccomp(2)` call libseccomp makes itself.
//! - [`cache::Capture`]: a shared memory region. libseccomp compiles and loads as usual,
//!   and `seccomp_load` first copies the program it generated into the region, where
//!   berth-spawn finds it once libcontainer returns, to store it for the next container.
//!
//! Without either, every call goes straight to libseccomp.

#![allow(non_camel_case_types, non_snake_case)]

mod abi;
pub mod cache;
mod intercept;
mod real;

pub use abi::*;
pub use intercept::*;
pub use real::{
    seccomp_api_get, seccomp_api_set, seccomp_arch_native, seccomp_arch_resolve_name,
    seccomp_notify_alloc, seccomp_notify_free, seccomp_notify_id_valid, seccomp_notify_receive,
    seccomp_notify_respond, seccomp_syscall_resolve_name, seccomp_syscall_resolve_name_arch,
    seccomp_syscall_resolve_name_rewrite, seccomp_syscall_resolve_num_arch, seccomp_version,
};
