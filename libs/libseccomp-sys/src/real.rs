//! libseccomp itself. The functions that take a filter are wrapped in `intercept`; the
//! rest are re-exported as they are.

use std::os::raw::{c_char, c_int, c_uint, c_void};

use crate::abi::{
    const_scmp_filter_ctx, scmp_arg_cmp, scmp_filter_attr, scmp_filter_ctx, scmp_version,
    seccomp_notif, seccomp_notif_resp,
};

unsafe extern "C" {
    pub fn seccomp_version() -> *const scmp_version;
    pub fn seccomp_api_get() -> c_uint;
    pub fn seccomp_api_set(level: c_uint) -> c_int;
    pub fn seccomp_init(def_action: u32) -> scmp_filter_ctx;
    pub fn seccomp_reset(ctx: scmp_filter_ctx, def_action: u32) -> c_int;
    pub fn seccomp_release(ctx: scmp_filter_ctx);
    pub fn seccomp_merge(ctx_dst: scmp_filter_ctx, ctx_src: scmp_filter_ctx) -> c_int;
    pub fn seccomp_arch_resolve_name(arch_name: *const c_char) -> u32;
    pub fn seccomp_arch_native() -> u32;
    pub fn seccomp_arch_exist(ctx: const_scmp_filter_ctx, arch_token: u32) -> c_int;
    pub fn seccomp_arch_add(ctx: scmp_filter_ctx, arch_token: u32) -> c_int;
    pub fn seccomp_arch_remove(ctx: scmp_filter_ctx, arch_token: u32) -> c_int;
    pub fn seccomp_load(ctx: const_scmp_filter_ctx) -> c_int;
    pub fn seccomp_attr_get(
        ctx: const_scmp_filter_ctx,
        attr: scmp_filter_attr,
        value: *mut u32,
    ) -> c_int;
    pub fn seccomp_attr_set(ctx: scmp_filter_ctx, attr: scmp_filter_attr, value: u32) -> c_int;
    pub fn seccomp_syscall_resolve_num_arch(arch_token: u32, num: c_int) -> *const c_char;
    pub fn seccomp_syscall_resolve_name_arch(arch_token: u32, name: *const c_char) -> c_int;
    pub fn seccomp_syscall_resolve_name_rewrite(arch_token: u32, name: *const c_char) -> c_int;
    pub fn seccomp_syscall_resolve_name(name: *const c_char) -> c_int;
    pub fn seccomp_syscall_priority(ctx: scmp_filter_ctx, syscall: c_int, priority: u8) -> c_int;
    pub fn seccomp_rule_add_array(
        ctx: scmp_filter_ctx,
        action: u32,
        syscall: c_int,
        arg_cnt: c_uint,
        arg_array: *const scmp_arg_cmp,
    ) -> c_int;
    pub fn seccomp_rule_add_exact_array(
        ctx: scmp_filter_ctx,
        action: u32,
        syscall: c_int,
        arg_cnt: c_uint,
        arg_array: *const scmp_arg_cmp,
    ) -> c_int;
    pub fn seccomp_notify_alloc(
        req: *mut *mut seccomp_notif,
        resp: *mut *mut seccomp_notif_resp,
    ) -> c_int;
    pub fn seccomp_notify_free(req: *mut seccomp_notif, resp: *mut seccomp_notif_resp);
    pub fn seccomp_notify_receive(fd: c_int, req: *mut seccomp_notif) -> c_int;
    pub fn seccomp_notify_respond(fd: c_int, resp: *mut seccomp_notif_resp) -> c_int;
    pub fn seccomp_notify_id_valid(fd: c_int, id: u64) -> c_int;
    pub fn seccomp_notify_fd(ctx: const_scmp_filter_ctx) -> c_int;
    pub fn seccomp_export_pfc(ctx: const_scmp_filter_ctx, fd: c_int) -> c_int;
    pub fn seccomp_export_bpf(ctx: const_scmp_filter_ctx, fd: c_int) -> c_int;
    // libseccomp 2.6 and later only (Debian 12 has 2.5.4); the `libseccomp` crate calls
    // these only when asked to, and nothing in berth asks.
    pub fn seccomp_export_bpf_mem(
        ctx: const_scmp_filter_ctx,
        buf: *mut c_void,
        len: *mut usize,
    ) -> c_int;
    pub fn seccomp_transaction_start(ctx: const_scmp_filter_ctx) -> c_int;
    pub fn seccomp_transaction_reject(ctx: scmp_filter_ctx);
    pub fn seccomp_transaction_commit(ctx: scmp_filter_ctx) -> c_int;
    pub fn seccomp_precompute(ctx: const_scmp_filter_ctx) -> c_int;
}
