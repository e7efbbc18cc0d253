//! Docker's capability rules: the 14 default capabilities, `--cap-add`/`--cap-drop` with
//! `ALL`, and `--privileged` (every capability the running kernel knows). Names are
//! accepted with or without `CAP_`, in any case. This module only computes sets; it never
//! changes the capabilities of any process.

use std::collections::BTreeSet;
use std::str::FromStr;

use oci_spec::runtime::Capability;

use crate::error::{Error, Result};

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub const DOCKER_DEFAULT: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// Every capability by number (`capability.h`), so `--privileged` can stop at the
/// kernel's `cap_last_cap`.
pub const ALL_BY_NUMBER: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// `CAP_NET_ADMIN`, `net_admin` -> `NET_ADMIN`, checked against the known names.
pub fn normalize(name: &str) -> Result<String> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if bare == "ALL" || ALL_BY_NUMBER.contains(&bare) {
        Ok(bare.to_string())
    } else {
        Err(Error::InvalidConfig(format!(
            "unknown capability {name:?}: use a name from capabilities(7) such as NET_ADMIN"
        )))
    }
}

/// The capability names a container gets, sorted, without the `CAP_` prefix.
/// `last_cap` is the kernel's `/proc/sys/kernel/cap_last_cap` (for `ALL`/privileged).
pub fn effective_set(
    privileged: bool,
    add: &[String],
    drop: &[String],
    last_cap: usize,
) -> Result<BTreeSet<String>> {
    let all = || {
        ALL_BY_NUMBER
            .iter()
            .take(last_cap + 1)
            .map(|s| s.to_string())
    };
    if privileged {
        return Ok(all().collect());
    }
    let add: Vec<String> = add.iter().map(|c| normalize(c)).collect::<Result<_>>()?;
    let drop: Vec<String> = drop.iter().map(|c| normalize(c)).collect::<Result<_>>()?;
    let mut set: BTreeSet<String> = if drop.iter().any(|c| c == "ALL") {
        BTreeSet::new()
    } else {
        DOCKER_DEFAULT
            .iter()
            .map(|s| s.to_string())
            .filter(|c| !drop.contains(c))
            .collect()
    };
    if add.iter().any(|c| c == "ALL") {
        set.extend(all());
    } else {
        set.extend(add);
    }
    Ok(set)
}

/// Converts names (without `CAP_`) into oci-spec capabilities.
pub fn to_oci(names: &BTreeSet<String>) -> Result<oci_spec::runtime::Capabilities> {
    names
        .iter()
        .map(|n| {
            Capability::from_str(n).map_err(|_| {
                Error::InvalidConfig(format!(
                    "capability {n} is not supported by this berth build"
                ))
            })
        })
        .collect()
}

/// The kernel's highest capability number; the newest known one when unreadable.
pub fn kernel_last_cap() -> usize {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(ALL_BY_NUMBER.len() - 1)
        .min(ALL_BY_NUMBER.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_dockers_fourteen() {
        let s = effective_set(false, &[], &[], 40).unwrap();
        assert_eq!(s.len(), 14);
        assert!(s.contains("NET_RAW") && !s.contains("SYS_ADMIN"));
        assert_eq!(to_oci(&s).unwrap().len(), 14);
    }

    #[test]
    fn add_and_drop_accept_prefixes_and_all() {
        let s = effective_set(false, &["cap_net_admin".into()], &["MKNOD".into()], 40).unwrap();
        assert!(s.contains("NET_ADMIN") && !s.contains("MKNOD"));
        let s = effective_set(false, &["CHOWN".into()], &["ALL".into()], 40).unwrap();
        assert_eq!(s.into_iter().collect::<Vec<_>>(), vec!["CHOWN".to_string()]);
        assert_eq!(
            effective_set(false, &["ALL".into()], &[], 37)
                .unwrap()
                .len(),
            38
        );
        assert!(effective_set(false, &["FLY".into()], &[], 40).is_err());
    }

    #[test]
    fn privileged_gets_what_the_kernel_knows() {
        assert_eq!(effective_set(true, &[], &[], 40).unwrap().len(), 41);
        assert_eq!(effective_set(true, &[], &[], 38).unwrap().len(), 39);
    }
}
