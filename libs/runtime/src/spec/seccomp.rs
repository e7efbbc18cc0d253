//! berth's default seccomp profile, equivalent in effect to Docker's: every system call
//! not listed fails with EPERM; ordinary calls are allowed; calls that only make sense with
//! a capability (mount, ptrace, module loading, clock setting, ...) are allowed only when
//! the container has that capability; `clone` may not create namespaces without
//! CAP_SYS_ADMIN, and `clone3` answers ENOSYS so libc falls back to the filterable `clone`.
//! The list is written here, grouped by purpose, not copied from moby's JSON.
//!
//! This module only describes the filter; libcontainer (libseccomp) installs it. Names the
//! local libseccomp does not know are skipped at load time, so newer calls may be listed.

use std::collections::BTreeSet;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};

use crate::error::Result;

/// Files, descriptors, directories and extended attributes.
#[rustfmt::skip]
const FILES: &[&str] = &[
    "access", "chdir", "chmod", "chown", "chown32", "close", "close_range", "copy_file_range",
    "creat", "dup", "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
    "fallocate", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fremovexattr",
    "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futimesat", "getcwd", "getdents", "getdents64", "getxattr", "lchown",
    "lchown32", "lgetxattr", "link", "linkat", "listxattr", "llistxattr", "_llseek", "lremovexattr",
    "lseek", "lsetxattr", "lstat", "lstat64", "mkdir", "mkdirat", "mknod", "mknodat",
    "name_to_handle_at", "newfstatat", "open", "openat", "openat2", "pread64", "preadv", "preadv2",
    "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
    "removexattr", "rename", "renameat", "renameat2", "rmdir", "sendfile", "sendfile64", "setxattr",
    "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "tee", "truncate", "truncate64", "umask", "unlink", "unlinkat",
    "utime", "utimensat", "utimensat_time64", "utimes", "vmsplice", "write", "writev",
];

/// Memory management.
#[rustfmt::skip]
const MEMORY: &[&str] = &[
    "brk", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore",
    "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mremap", "msync", "munlock",
    "munlockall", "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect", "remap_file_pages",
];

/// Processes, threads, credentials, scheduling, signals.
#[rustfmt::skip]
const PROCESSES: &[&str] = &[
    "capget", "capset", "execve", "execveat", "exit", "exit_group", "fork", "getcpu", "getegid",
    "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
    "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getresgid", "getresgid32",
    "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid",
    "get_thread_area", "gettid", "getuid", "getuid32", "ioprio_get", "ioprio_set", "kill",
    "pidfd_open", "pidfd_send_signal", "prctl", "prlimit64", "process_mrelease", "restart_syscall",
    "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
    "sched_setscheduler", "sched_yield", "seccomp", "setfsgid", "setfsgid32", "setfsuid",
    "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setpgid", "setpriority",
    "setregid", "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid",
    "setreuid32", "setrlimit", "set_robust_list", "setsid", "set_thread_area", "set_tid_address",
    "setuid", "setuid32", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
    "tgkill", "tkill", "ugetrlimit", "vfork", "wait4", "waitid", "waitpid",
    // Safe under seccomp since Linux 4.8 (Docker allows them from that kernel on).
    "ptrace", "kcmp", "pidfd_getfd", "process_vm_readv", "process_vm_writev", "process_madvise",
];

/// Time, timers, sleeping, polling, events, futexes.
#[rustfmt::skip]
const TIME_AND_WAITING: &[&str] = &[
    "alarm", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
    "clock_nanosleep", "clock_nanosleep_time64", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd",
    "eventfd2", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake",
    "getitimer", "gettimeofday", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "fanotify_mark", "nanosleep", "_newselect", "pause", "poll", "ppoll",
    "ppoll_time64", "pselect6", "pselect6_time64", "select", "setitimer", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "adjtimex", "clock_adjtime", "clock_adjtime64",
];

/// Sockets, pipes, System V and POSIX IPC, async I/O.
#[rustfmt::skip]
const IPC_AND_NETWORK: &[&str] = &[
    "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt", "listen",
    "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "send", "sendmmsg", "sendmsg",
    "sendto", "setsockopt", "shutdown", "socket", "socketcall", "socketpair", "pipe", "pipe2",
    "ipc", "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "shmat", "shmctl", "shmdt", "shmget", "mq_getsetattr", "mq_notify",
    "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
    "mq_unlink", "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
    "io_setup", "io_submit", "ioctl",
];

/// System information and sandboxing that needs no privilege.
#[rustfmt::skip]
const SYSTEM: &[&str] = &[
    "getrandom", "sysinfo", "uname", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "cachestat",
];

/// x86 only.
const X86: &[&str] = &["arch_prctl", "modify_ldt"];

/// Calls allowed only when the container holds the named capability.
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    (
        "SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("SYS_BOOT", &["reboot"]),
    ("SYS_CHROOT", &["chroot"]),
    (
        "SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("SYS_PACCT", &["acct"]),
    ("SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("SYS_TTY_CONFIG", &["vhangup"]),
    (
        "SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("SYSLOG", &["syslog"]),
    ("BPF", &["bpf"]),
    ("PERFMON", &["perf_event_open"]),
];

/// `personality(2)` values Docker lets through: PER_LINUX, UNAME26, PER_LINUX32,
/// UNAME26|PER_LINUX32, and the query value.
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// The architectures a filter covers on this build's machine.
fn architectures() -> Vec<Arch> {
    if cfg!(target_arch = "x86_64") {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    } else if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    } else {
        vec![Arch::ScmpArchNative]
    }
}

fn allow(names: impl IntoIterator<Item = String>) -> Result<LinuxSyscall> {
    Ok(LinuxSyscallBuilder::default()
        .names(names.into_iter().collect::<Vec<_>>())
        .action(LinuxSeccompAction::ScmpActAllow)
        .build()?)
}

/// The default profile for a container holding `caps` (names without `CAP_`).
pub fn default_profile(caps: &BTreeSet<String>) -> Result<LinuxSeccomp> {
    let mut names: BTreeSet<String> = [
        FILES,
        MEMORY,
        PROCESSES,
        TIME_AND_WAITING,
        IPC_AND_NETWORK,
        SYSTEM,
    ]
    .iter()
    .flat_map(|group| group.iter().map(|s| s.to_string()))
    .collect();
    if cfg!(any(target_arch = "x86_64", target_arch = "x86")) {
        names.extend(X86.iter().map(|s| s.to_string()));
    }
    for (cap, calls) in BY_CAPABILITY {
        if caps.contains(*cap) {
            names.extend(calls.iter().map(|s| s.to_string()));
        }
    }
    let sys_admin = caps.contains("SYS_ADMIN");
    let mut rules = vec![allow(names)?];

    for value in PERSONALITIES {
        let arg = LinuxSeccompArgBuilder::default()
            .index(0usize)
            .value(*value)
            .op(LinuxSeccompOperator::ScmpCmpEq)
            .build()?;
        rules.push(
            LinuxSyscallBuilder::default()
                .names(vec!["personality".to_string()])
                .action(LinuxSeccompAction::ScmpActAllow)
                .args(vec![arg])
                .build()?,
        );
    }

    if !sys_admin {
        // clone(2) without namespace flags. libcontainer reads SCMP_CMP_MASKED_EQ as
        // (arg & valueTwo) == value, the reverse of runc's (arg & value) == valueTwo, so
        // the mask goes in valueTwo (see the crate docs: a bundle for runc swaps them).
        let arg = LinuxSeccompArgBuilder::default()
            .index(0usize)
            .value(0u64)
            .value_two(CLONE_NAMESPACE_FLAGS)
            .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
            .build()?;
        rules.push(
            LinuxSyscallBuilder::default()
                .names(vec!["clone".to_string()])
                .action(LinuxSeccompAction::ScmpActAllow)
                .args(vec![arg])
                .build()?,
        );
        // clone3 passes its flags in memory, out of seccomp's reach: make libc fall back.
        rules.push(
            LinuxSyscallBuilder::default()
                .names(vec!["clone3".to_string()])
                .action(LinuxSeccompAction::ScmpActErrno)
                .errno_ret(ENOSYS)
                .build()?,
        );
    }

    Ok(LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .default_errno_ret(EPERM)
        .architectures(architectures())
        .syscalls(rules)
        .build()?)
}

/// Rewrites a profile from libcontainer's reading of `SCMP_CMP_MASKED_EQ` to runc's (and the
/// OCI spec's) by swapping `value` and `valueTwo`; for running a berth bundle under runc.
pub fn masked_eq_for_runc(profile: &mut serde_json::Value) {
    let Some(syscalls) = profile.get_mut("syscalls").and_then(|s| s.as_array_mut()) else {
        return;
    };
    for rule in syscalls {
        let Some(args) = rule.get_mut("args").and_then(|a| a.as_array_mut()) else {
            continue;
        };
        for arg in args {
            if arg.get("op").and_then(|o| o.as_str()) == Some("SCMP_CMP_MASKED_EQ") {
                let value = arg.get("value").cloned().unwrap_or(0.into());
                let two = arg.get("valueTwo").cloned().unwrap_or(0.into());
                arg["value"] = two;
                arg["valueTwo"] = value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(p: &LinuxSeccomp) -> BTreeSet<String> {
        p.syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .filter(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none())
            .flat_map(|r| r.names().clone())
            .collect()
    }

    /// The default capabilities plus `add`, on a kernel that knows capabilities 0-40.
    fn caps_adding(add: &[String]) -> std::collections::BTreeSet<String> {
        crate::spec::capabilities::effective_set(
            false,
            add,
            &[],
            crate::spec::capabilities::up_to(40),
        )
        .unwrap()
    }

    #[test]
    fn default_denies_with_eperm_and_allows_the_basics() {
        let caps = caps_adding(&[]);
        let p = default_profile(&caps).unwrap();
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.default_errno_ret(), Some(EPERM));
        let a = allowed(&p);
        for call in [
            "read", "write", "execve", "openat", "chroot", "socket", "wait4",
        ] {
            assert!(a.contains(call), "{call} must be allowed");
        }
        for call in [
            "mount",
            "unshare",
            "setns",
            "reboot",
            "init_module",
            "keyctl",
            "add_key",
            "clone",
        ] {
            assert!(
                !a.contains(call),
                "{call} must not be allowed unconditionally"
            );
        }
        let clone3 = p
            .syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .find(|r| r.names() == &["clone3".to_string()])
            .unwrap();
        assert_eq!(clone3.errno_ret(), Some(ENOSYS));
    }

    #[test]
    fn sys_admin_unlocks_mount_and_free_clone() {
        let caps = caps_adding(&["SYS_ADMIN".into()]);
        let a = allowed(&default_profile(&caps).unwrap());
        assert!(a.contains("mount") && a.contains("clone") && a.contains("clone3"));
    }

    #[test]
    fn runc_rewrite_swaps_masked_eq_operands() {
        let caps = caps_adding(&[]);
        let mut v = serde_json::to_value(default_profile(&caps).unwrap()).unwrap();
        masked_eq_for_runc(&mut v);
        let text = v.to_string();
        assert!(
            text.contains(&format!("\"value\":{CLONE_NAMESPACE_FLAGS}")),
            "{text}"
        );
    }
}
