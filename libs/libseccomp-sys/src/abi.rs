//! The types and constants of `<seccomp.h>` (libseccomp 2.5/2.6) and of the kernel's
//! `<linux/seccomp.h>`, with the names the `libseccomp` crate uses.

use std::os::raw::{c_int, c_uint, c_void};

pub const SECCOMP_MODE_DISABLED: u64 = 0;
pub const SECCOMP_MODE_STRICT: u64 = 1;
pub const SECCOMP_MODE_FILTER: u64 = 2;

pub const SECCOMP_SET_MODE_STRICT: u32 = 0;
pub const SECCOMP_SET_MODE_FILTER: u32 = 1;
pub const SECCOMP_GET_ACTION_AVAIL: u32 = 2;
pub const SECCOMP_GET_NOTIF_SIZES: u32 = 3;

pub const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1 << 0;
pub const SECCOMP_FILTER_FLAG_LOG: u32 = 1 << 1;
pub const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;
pub const SECCOMP_FILTER_FLAG_TSYNC_ESRCH: u32 = 1 << 4;
/// Linux 5.19: a notified task waits killably once the supervisor has received it.
pub const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

pub const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const SECCOMP_RET_KILL_THREAD: u32 = 0x0000_0000;
pub const SECCOMP_RET_KILL: u32 = SECCOMP_RET_KILL_THREAD;
pub const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
pub const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
pub const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
pub const SECCOMP_RET_LOG: u32 = 0x7ffc_0000;
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
pub const SECCOMP_RET_ACTION_FULL: u32 = 0xffff_0000;
pub const SECCOMP_RET_ACTION: u32 = 0x7fff_0000;
pub const SECCOMP_RET_DATA: u32 = 0x0000_ffff;

pub const SECCOMP_USER_NOTIF_FLAG_CONTINUE: u32 = 1;
pub const SECCOMP_ADDFD_FLAG_SETFD: u32 = 1;
pub const SECCOMP_ADDFD_FLAG_SEND: u32 = 2;

/// What a filter sees of a system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct seccomp_data {
    pub nr: c_int,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct seccomp_notif_sizes {
    pub seccomp_notif: u16,
    pub seccomp_notif_resp: u16,
    pub seccomp_data: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct seccomp_notif {
    pub id: u64,
    pub pid: u32,
    pub flags: u32,
    pub data: seccomp_data,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct seccomp_notif_resp {
    pub id: u64,
    pub val: i64,
    pub error: i32,
    pub flags: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct seccomp_notif_addfd {
    pub id: u64,
    pub flags: u32,
    pub srcfd: u32,
    pub newfd: u32,
    pub newfd_flags: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct scmp_version {
    pub major: c_uint,
    pub minor: c_uint,
    pub micro: c_uint,
}

/// A filter under construction (libseccomp's, or this crate's stand-in).
pub type scmp_filter_ctx = *mut c_void;
pub type const_scmp_filter_ctx = *const c_void;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub enum scmp_filter_attr {
    _SCMP_FLTATR_MIN = 0,
    SCMP_FLTATR_ACT_DEFAULT = 1,
    SCMP_FLTATR_ACT_BADARCH = 2,
    SCMP_FLTATR_CTL_NNP = 3,
    SCMP_FLTATR_CTL_TSYNC = 4,
    SCMP_FLTATR_API_TSKIP = 5,
    SCMP_FLTATR_CTL_LOG = 6,
    SCMP_FLTATR_CTL_SSB = 7,
    SCMP_FLTATR_CTL_OPTIMIZE = 8,
    SCMP_FLTATR_API_SYSRAWRC = 9,
    SCMP_FLTATR_CTL_WAITKILL = 10,
    _SCMP_FLTATR_MAX,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub enum scmp_compare {
    _SCMP_CMP_MIN = 0,
    SCMP_CMP_NE = 1,
    SCMP_CMP_LT = 2,
    SCMP_CMP_LE = 3,
    SCMP_CMP_EQ = 4,
    SCMP_CMP_GE = 5,
    SCMP_CMP_GT = 6,
    SCMP_CMP_MASKED_EQ = 7,
    _SCMP_CMP_MAX,
}

pub type scmp_datum_t = u64;

/// One comparison of a rule on a system call argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct scmp_arg_cmp {
    pub arg: c_uint,
    pub op: scmp_compare,
    pub datum_a: scmp_datum_t,
    pub datum_b: scmp_datum_t,
}

/// Architecture tokens: the kernel's AUDIT_ARCH_* values; 0 is the native one.
pub const SCMP_ARCH_NATIVE: u32 = 0;
pub const SCMP_ARCH_X86: u32 = 0x4000_0003;
pub const SCMP_ARCH_X86_64: u32 = 0xc000_003e;
pub const SCMP_ARCH_X32: u32 = 0x4000_003e;
pub const SCMP_ARCH_ARM: u32 = 0x4000_0028;
pub const SCMP_ARCH_AARCH64: u32 = 0xc000_00b7;
pub const SCMP_ARCH_LOONGARCH64: u32 = 0xc000_0102;
pub const SCMP_ARCH_M68K: u32 = 0x4;
pub const SCMP_ARCH_MIPS: u32 = 0x8;
pub const SCMP_ARCH_MIPS64: u32 = 0x8000_0008;
pub const SCMP_ARCH_MIPS64N32: u32 = 0xa000_0008;
pub const SCMP_ARCH_MIPSEL: u32 = 0x4000_0008;
pub const SCMP_ARCH_MIPSEL64: u32 = 0xc000_0008;
pub const SCMP_ARCH_MIPSEL64N32: u32 = 0xe000_0008;
pub const SCMP_ARCH_PPC: u32 = 0x14;
pub const SCMP_ARCH_PPC64: u32 = 0x8000_0015;
pub const SCMP_ARCH_PPC64LE: u32 = 0xc000_0015;
pub const SCMP_ARCH_S390: u32 = 0x16;
pub const SCMP_ARCH_S390X: u32 = 0x8000_0016;
pub const SCMP_ARCH_PARISC: u32 = 0xf;
pub const SCMP_ARCH_PARISC64: u32 = 0x8000_000f;
pub const SCMP_ARCH_RISCV64: u32 = 0xc000_00f3;
pub const SCMP_ARCH_SHEB: u32 = 0x2a;
pub const SCMP_ARCH_SH: u32 = 0x4000_002a;

/// Actions.
pub const SCMP_ACT_MASK: u32 = SECCOMP_RET_ACTION_FULL;
pub const SCMP_ACT_KILL_PROCESS: u32 = SECCOMP_RET_KILL_PROCESS;
pub const SCMP_ACT_KILL_THREAD: u32 = SECCOMP_RET_KILL_THREAD;
pub const SCMP_ACT_KILL: u32 = SCMP_ACT_KILL_THREAD;
pub const SCMP_ACT_TRAP: u32 = SECCOMP_RET_TRAP;
pub const SCMP_ACT_NOTIFY: u32 = SECCOMP_RET_USER_NOTIF;
pub const SCMP_ACT_ERRNO_MASK: u32 = SECCOMP_RET_ERRNO;
pub const SCMP_ACT_TRACE_MASK: u32 = SECCOMP_RET_TRACE;
pub const SCMP_ACT_LOG: u32 = SECCOMP_RET_LOG;
pub const SCMP_ACT_ALLOW: u32 = SECCOMP_RET_ALLOW;

/// Fail the call with errno `x`.
#[must_use]
pub const fn SCMP_ACT_ERRNO(x: u16) -> u32 {
    SCMP_ACT_ERRNO_MASK | x as u32
}

/// Notify a tracer with message `x`.
#[must_use]
pub const fn SCMP_ACT_TRACE(x: u16) -> u32 {
    SCMP_ACT_TRACE_MASK | x as u32
}

/// Syscall numbers libseccomp answers for names it cannot resolve.
pub const __NR_SCMP_ERROR: c_int = -1;
pub const __NR_SCMP_UNDEF: c_int = -2;
