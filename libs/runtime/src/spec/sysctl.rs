//! `--sysctl`, checked as Docker and runc check it: only kernel parameters that belong to
//! a namespace the container has of its own may be set (`kernel.msg*`, `kernel.sem`,
//! `kernel.shm*`, `fs.mqueue.*` with a private IPC namespace; `net.*` with a private
//! network namespace). Anything else would change the host for everyone and is refused.
//! This module only validates; libcontainer writes the values inside the container.

use std::collections::HashMap;

use crate::config::{ContainerConfig, NetworkMode};
use crate::error::{Error, Result};

/// The IPC parameters Docker accepts.
const IPC: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The `linux.sysctl` of the spec, or an error naming the first parameter refused.
pub fn validated(cfg: &ContainerConfig) -> Result<Option<HashMap<String, String>>> {
    if cfg.sysctls.is_empty() {
        return Ok(None);
    }
    let refuse = |key: &str, why: &str| {
        Err(Error::InvalidConfig(format!(
            "sysctl {key:?} is not allowed: {why}"
        )))
    };
    for key in cfg.sysctls.keys() {
        // libcontainer turns dots into slashes under /proc/sys: no other separators.
        if key.is_empty() || key.contains('/') || key.split('.').any(|p| p.is_empty() || p == "..")
        {
            return refuse(key, "it is not a kernel parameter name");
        }
        let ipc = IPC.contains(&key.as_str()) || key.starts_with("fs.mqueue.");
        if ipc && cfg.ipc_host {
            return refuse(
                key,
                "with --ipc host it would change the host's IPC settings",
            );
        } else if ipc {
            continue;
        }
        if key.starts_with("net.") {
            if cfg.network == NetworkMode::Host {
                return refuse(
                    key,
                    "with --network host it would change the host's network settings",
                );
            }
            continue;
        }
        return refuse(
            key,
            "it is not namespaced, so it would change the host; only kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.* and net.* can be set per container",
        );
    }
    Ok(Some(
        cfg.sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> ContainerConfig {
        ContainerConfig {
            sysctls: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn only_namespaced_parameters_pass() {
        let ok = with(&[
            ("kernel.shmmax", "1000000"),
            ("fs.mqueue.msg_max", "20"),
            ("net.ipv4.ip_forward", "1"),
        ]);
        assert_eq!(validated(&ok).unwrap().unwrap().len(), 3);
        assert!(validated(&with(&[])).unwrap().is_none());
        for bad in [
            "kernel.hostname",
            "vm.swappiness",
            "kernel.shmmax/../x",
            "net..x",
        ] {
            let e = validated(&with(&[(bad, "1")])).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        let mut host_ipc = with(&[("kernel.shmmax", "1")]);
        host_ipc.ipc_host = true;
        assert!(validated(&host_ipc).is_err());
        let mut host_net = with(&[("net.ipv4.ip_forward", "1")]);
        host_net.network = NetworkMode::Host;
        assert!(validated(&host_net).is_err());
    }
}
