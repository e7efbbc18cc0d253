//! The open-file limit: a daemon that proxies connections and serves an API needs more
//! than the 1024 descriptors that systemd and login shells give by default, or a few
//! hundred idle clients of a published port leave none for `docker version`.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit, as dockerd (through Go's
/// runtime) does. Never tries the hard limit itself: that needs CAP_SYS_RESOURCE, which a
/// root in a container or a VM may lack. Returns the soft limit now in force.
pub fn raise_open_file_limit() -> u64 {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    if soft >= hard {
        return soft;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => {
            tracing::debug!(from = soft, to = hard, "raised the open-file soft limit");
            hard
        }
        Err(e) => {
            tracing::warn!(soft, hard, error = %e, "cannot raise the open-file soft limit; many connections may exhaust it");
            soft
        }
    }
}
