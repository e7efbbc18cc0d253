//! Docker's capability rules: the 14 default capabilities, `--cap-add`/`--cap-drop` with
//! `ALL`, and `--privileged` (every capability in the daemon's own bounding set, as moby
//! grants: a process cannot hand out what it does not hold). Names are
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

/// Every capability by number (`capability.h`): bit `n` of a capability mask is
/// `ALL_BY_NUMBER[n]`.
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
/// `available` is the mask `ALL` and `--privileged` grant: the daemon's bounding set
/// ([`daemon_bounding_set`]).
pub fn effective_set(
    privileged: bool,
    add: &[String],
    drop: &[String],
    available: u64,
) -> Result<BTreeSet<String>> {
    let all = || {
        ALL_BY_NUMBER
            .iter()
            .enumerate()
            .filter(move |(n, _)| available & (1u64 << n) != 0)
            .map(|(_, s)| s.to_string())
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

/// The mask of capabilities 0..=`last_cap`.
pub fn up_to(last_cap: usize) -> u64 {
    let last = last_cap.min(ALL_BY_NUMBER.len() - 1);
    u64::MAX >> (63 - last)
}

/// This process's bounding set (`CapBnd` in /proc/self/status), limited to the
/// capabilities the kernel and berth know. A daemon started without some capability
/// (this is common in containers and on hardened hosts) cannot grant it: asking would
/// fail the create. When the status is unreadable, everything the kernel knows.
pub fn daemon_bounding_set() -> u64 {
    let known = up_to(kernel_last_cap());
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_cap_bnd(&s))
        .unwrap_or(known)
        & known
}

/// Whether this process holds capability `name` (without `CAP_`) in its effective set.
pub fn has_effective(name: &str) -> bool {
    let Some(bit) = ALL_BY_NUMBER.iter().position(|c| *c == name) else {
        return false;
    };
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_cap_line(&s, "CapEff:"))
        .is_some_and(|eff| eff & (1u64 << bit) != 0)
}

fn parse_cap_bnd(status: &str) -> Option<u64> {
    parse_cap_line(status, "CapBnd:")
}

fn parse_cap_line(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_dockers_fourteen() {
        let s = effective_set(false, &[], &[], up_to(40)).unwrap();
        assert_eq!(s.len(), 14);
        assert!(s.contains("NET_RAW") && !s.contains("SYS_ADMIN"));
        assert_eq!(to_oci(&s).unwrap().len(), 14);
    }

    #[test]
    fn add_and_drop_accept_prefixes_and_all() {
        let s = effective_set(
            false,
            &["cap_net_admin".into()],
            &["MKNOD".into()],
            up_to(40),
        )
        .unwrap();
        assert!(s.contains("NET_ADMIN") && !s.contains("MKNOD"));
        let s = effective_set(false, &["CHOWN".into()], &["ALL".into()], up_to(40)).unwrap();
        assert_eq!(s.into_iter().collect::<Vec<_>>(), vec!["CHOWN".to_string()]);
        assert_eq!(
            effective_set(false, &["ALL".into()], &[], up_to(37))
                .unwrap()
                .len(),
            38
        );
        assert!(effective_set(false, &["FLY".into()], &[], up_to(40)).is_err());
    }

    #[test]
    fn privileged_gets_the_daemons_bounding_set() {
        assert_eq!(effective_set(true, &[], &[], up_to(40)).unwrap().len(), 41);
        assert_eq!(effective_set(true, &[], &[], up_to(38)).unwrap().len(), 39);
        // A daemon without CAP_SYS_RESOURCE (bit 24), as on this project's CI machine.
        let bounding = parse_cap_bnd("Name:\tberthd\nCapBnd:\t000001fffeffffff\n").unwrap();
        let s = effective_set(true, &[], &[], bounding).unwrap();
        assert_eq!(s.len(), 40);
        assert!(!s.contains("SYS_RESOURCE") && s.contains("SYS_ADMIN"));
        let s = effective_set(false, &["ALL".into()], &[], bounding).unwrap();
        assert!(!s.contains("SYS_RESOURCE"));
        assert_eq!(daemon_bounding_set() & !up_to(kernel_last_cap()), 0);
    }
}
