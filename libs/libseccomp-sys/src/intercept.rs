//! The functions that take a filter: libseccomp's, unless the filter is a stand-in made
//! while berth-spawn holds a compiled program ([`crate::cache::Compiled`]).

use std::os::raw::{c_int, c_uint, c_void};
use std::sync::Mutex;

use crate::abi::*;
use crate::cache::{self, Plan};
use crate::real;

/// A filter libcontainer believes it builds while a compiled program waits: only the
/// attributes that change how a program is loaded matter.
#[derive(Debug, Clone, Copy)]
struct StandIn {
    no_new_privs: bool,
    tsync: bool,
    log: bool,
    ssb: bool,
    wait_killable: bool,
}

impl StandIn {
    /// libseccomp's defaults: it sets no_new_privs on load unless told not to.
    const NEW: StandIn = StandIn {
        no_new_privs: true,
        tsync: false,
        log: false,
        ssb: false,
        wait_killable: false,
    };

    fn flags(&self) -> u32 {
        let mut flags = 0;
        for (on, flag) in [
            (self.tsync, SECCOMP_FILTER_FLAG_TSYNC),
            (self.log, SECCOMP_FILTER_FLAG_LOG),
            (self.ssb, SECCOMP_FILTER_FLAG_SPEC_ALLOW),
            (self.wait_killable, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV),
        ] {
            if on {
                flags |= flag;
            }
        }
        flags
    }
}

/// The addresses of live stand-ins: any other filter pointer is libseccomp's.
static STAND_INS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

fn stand_in(ctx: const_scmp_filter_ctx) -> Option<*mut StandIn> {
    let live = STAND_INS.lock().unwrap_or_else(|p| p.into_inner());
    live.contains(&(ctx as usize))
        .then_some(ctx as *mut StandIn)
}

fn errno() -> c_int {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// # Safety
/// As libseccomp's `seccomp_init`.
pub unsafe fn seccomp_init(def_action: u32) -> scmp_filter_ctx {
    if matches!(*cache::plan(), Plan::Compiled(_)) {
        let ctx = Box::into_raw(Box::new(StandIn::NEW));
        STAND_INS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(ctx as usize);
        return ctx.cast();
    }
    // SAFETY: forwarded unchanged.
    unsafe { real::seccomp_init(def_action) }
}

/// # Safety
/// As libseccomp's `seccomp_reset`.
pub unsafe fn seccomp_reset(ctx: scmp_filter_ctx, def_action: u32) -> c_int {
    match stand_in(ctx) {
        // SAFETY: a live stand-in, made by Box::into_raw in seccomp_init.
        Some(s) => unsafe {
            *s = StandIn::NEW;
            0
        },
        // SAFETY: forwarded unchanged.
        None => unsafe { real::seccomp_reset(ctx, def_action) },
    }
}

/// # Safety
/// As libseccomp's `seccomp_release`.
pub unsafe fn seccomp_release(ctx: scmp_filter_ctx) {
    match stand_in(ctx) {
        Some(s) => {
            STAND_INS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|&a| a != s as usize);
            // SAFETY: made by Box::into_raw in seccomp_init, now unlisted: freed once.
            drop(unsafe { Box::from_raw(s) });
        }
        // SAFETY: forwarded unchanged.
        None => unsafe { real::seccomp_release(ctx) },
    }
}

/// # Safety
/// As libseccomp's `seccomp_merge`.
pub unsafe fn seccomp_merge(ctx_dst: scmp_filter_ctx, ctx_src: scmp_filter_ctx) -> c_int {
    if stand_in(ctx_dst).is_some() || stand_in(ctx_src).is_some() {
        return -libc::EOPNOTSUPP;
    }
    // SAFETY: forwarded unchanged.
    unsafe { real::seccomp_merge(ctx_dst, ctx_src) }
}

/// Stand-ins accept what only shapes the program, which is already compiled.
macro_rules! shapes_the_program {
    ($(fn $name:ident($ctx:ident: $ctx_ty:ty $(, $arg:ident: $ty:ty)*);)*) => {$(
        /// # Safety
        /// As libseccomp's function of the same name.
        pub unsafe fn $name($ctx: $ctx_ty $(, $arg: $ty)*) -> c_int {
            if stand_in($ctx).is_some() {
                return 0;
            }
            // SAFETY: forwarded unchanged.
            unsafe { real::$name($ctx $(, $arg)*) }
        }
    )*};
}

shapes_the_program! {
    fn seccomp_arch_exist(ctx: const_scmp_filter_ctx, arch_token: u32);
    fn seccomp_arch_add(ctx: scmp_filter_ctx, arch_token: u32);
    fn seccomp_arch_remove(ctx: scmp_filter_ctx, arch_token: u32);
    fn seccomp_syscall_priority(ctx: scmp_filter_ctx, syscall: c_int, priority: u8);
    fn seccomp_rule_add_array(
        ctx: scmp_filter_ctx,
        action: u32,
        syscall: c_int,
        arg_cnt: c_uint,
        arg_array: *const scmp_arg_cmp
    );
    fn seccomp_rule_add_exact_array(
        ctx: scmp_filter_ctx,
        action: u32,
        syscall: c_int,
        arg_cnt: c_uint,
        arg_array: *const scmp_arg_cmp
    );
    fn seccomp_transaction_start(ctx: const_scmp_filter_ctx);
    fn seccomp_transaction_commit(ctx: scmp_filter_ctx);
    fn seccomp_precompute(ctx: const_scmp_filter_ctx);
}

/// A stand-in has no program of its own to show.
macro_rules! needs_the_rules {
    ($(fn $name:ident($ctx:ident: $ctx_ty:ty $(, $arg:ident: $ty:ty)*);)*) => {$(
        /// # Safety
        /// As libseccomp's function of the same name.
        pub unsafe fn $name($ctx: $ctx_ty $(, $arg: $ty)*) -> c_int {
            if stand_in($ctx).is_some() {
                return -libc::EOPNOTSUPP;
            }
            // SAFETY: forwarded unchanged.
            unsafe { real::$name($ctx $(, $arg)*) }
        }
    )*};
}

needs_the_rules! {
    fn seccomp_notify_fd(ctx: const_scmp_filter_ctx);
    fn seccomp_export_pfc(ctx: const_scmp_filter_ctx, fd: c_int);
    fn seccomp_export_bpf(ctx: const_scmp_filter_ctx, fd: c_int);
    fn seccomp_export_bpf_mem(ctx: const_scmp_filter_ctx, buf: *mut c_void, len: *mut usize);
}

/// # Safety
/// As libseccomp's `seccomp_transaction_reject`.
pub unsafe fn seccomp_transaction_reject(ctx: scmp_filter_ctx) {
    if stand_in(ctx).is_none() {
        // SAFETY: forwarded unchanged.
        unsafe { real::seccomp_transaction_reject(ctx) }
    }
}

/// # Safety
/// As libseccomp's `seccomp_attr_get`.
pub unsafe fn seccomp_attr_get(
    ctx: const_scmp_filter_ctx,
    attr: scmp_filter_attr,
    value: *mut u32,
) -> c_int {
    let Some(s) = stand_in(ctx) else {
        // SAFETY: forwarded unchanged.
        return unsafe { real::seccomp_attr_get(ctx, attr, value) };
    };
    // SAFETY: a live stand-in; `value` is the caller's out-parameter.
    unsafe {
        let s = *s;
        *value = match attr {
            scmp_filter_attr::SCMP_FLTATR_CTL_NNP => s.no_new_privs.into(),
            scmp_filter_attr::SCMP_FLTATR_CTL_TSYNC => s.tsync.into(),
            scmp_filter_attr::SCMP_FLTATR_CTL_LOG => s.log.into(),
            scmp_filter_attr::SCMP_FLTATR_CTL_SSB => s.ssb.into(),
            scmp_filter_attr::SCMP_FLTATR_CTL_WAITKILL => s.wait_killable.into(),
            _ => 0,
        };
    }
    0
}

/// # Safety
/// As libseccomp's `seccomp_attr_set`.
pub unsafe fn seccomp_attr_set(ctx: scmp_filter_ctx, attr: scmp_filter_attr, value: u32) -> c_int {
    let Some(s) = stand_in(ctx) else {
        // SAFETY: forwarded unchanged.
        return unsafe { real::seccomp_attr_set(ctx, attr, value) };
    };
    // SAFETY: a live stand-in, made by Box::into_raw in seccomp_init.
    let s = unsafe { &mut *s };
    let on = value != 0;
    match attr {
        scmp_filter_attr::SCMP_FLTATR_CTL_NNP => s.no_new_privs = on,
        scmp_filter_attr::SCMP_FLTATR_CTL_TSYNC => s.tsync = on,
        scmp_filter_attr::SCMP_FLTATR_CTL_LOG => s.log = on,
        scmp_filter_attr::SCMP_FLTATR_CTL_SSB => s.ssb = on,
        scmp_filter_attr::SCMP_FLTATR_CTL_WAITKILL => s.wait_killable = on,
        _ => {}
    }
    0
}

/// # Safety
/// As libseccomp's `seccomp_load`.
pub unsafe fn seccomp_load(ctx: const_scmp_filter_ctx) -> c_int {
    let plan = cache::plan();
    match (stand_in(ctx), &*plan) {
        (Some(s), Plan::Compiled(program)) => {
            // SAFETY: a live stand-in.
            let s = unsafe { *s };
            load_program(&s, program)
        }
        // Only stand-ins made while a program was held exist; refuse rather than load
        // nothing.
        (Some(_), _) => -libc::EINVAL,
        (None, Plan::Capture(region)) => {
            region.copy_program_of(ctx);
            // SAFETY: forwarded unchanged.
            unsafe { real::seccomp_load(ctx) }
        }
        // SAFETY: forwarded unchanged.
        (None, _) => unsafe { real::seccomp_load(ctx) },
    }
}

/// Installs `program` as libseccomp's `seccomp_load` would have installed the same
/// program: no_new_privs first when asked, then `seccomp(SECCOMP_SET_MODE_FILTER)`.
fn load_program(s: &StandIn, program: &[libc::sock_filter]) -> c_int {
    if s.no_new_privs {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return -errno();
        }
    }
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `program`, which outlives the call; the kernel copies it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            s.flags(),
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 { -errno() } else { 0 }
}
