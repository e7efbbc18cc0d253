//! A custom seccomp profile in Docker's format (`--security-opt seccomp=profile.json`),
//! turned into the OCI filter libcontainer installs, with moby's rules
//! (`profiles/seccomp/seccomp_linux.go`): `architectures` or an `archMap` entry for this
//! machine, rules kept or dropped by their `includes`/`excludes` (capabilities,
//! architectures, minimum kernel), `name` or `names`. What the profile asks and berth
//! cannot do (a notify listener) is refused, never dropped. This module only converts.

use std::collections::BTreeSet;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: LinuxSeccompAction,
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Vec<Arch>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    syscalls: Vec<Rule>,
    #[serde(default)]
    flags: Vec<LinuxSeccompFilterFlag>,
    #[serde(default)]
    listener_path: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: Arch,
    #[serde(default)]
    sub_architectures: Vec<Arch>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    name: String,
    #[serde(default)]
    names: Vec<String>,
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<LinuxSeccompArg>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: String,
}

fn invalid(why: impl std::fmt::Display) -> Error {
    Error::InvalidConfig(format!("the seccomp profile {why}"))
}

/// This machine's architecture as seccomp profiles name it.
fn native() -> (Arch, &'static str) {
    if cfg!(target_arch = "x86_64") {
        (Arch::ScmpArchX86_64, "amd64")
    } else if cfg!(target_arch = "aarch64") {
        (Arch::ScmpArchAarch64, "arm64")
    } else {
        (Arch::ScmpArchNative, std::env::consts::ARCH)
    }
}

/// `5.8` or `5.8.0` from a release such as `6.1.0-18-amd64`.
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn running_kernel() -> (u32, u32) {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| kernel_version(&u.release().to_string_lossy()))
        .unwrap_or((0, 0))
}

fn cap_name(c: &str) -> String {
    let upper = c.trim().to_ascii_uppercase();
    upper.strip_prefix("CAP_").unwrap_or(&upper).to_string()
}

impl Rule {
    /// Whether moby keeps this rule for a container holding `caps`.
    fn applies(&self, caps: &BTreeSet<String>, kernel: (u32, u32)) -> Result<bool> {
        let arch = native().1;
        let inc = &self.includes;
        if !inc.arches.is_empty() && !inc.arches.iter().any(|a| a == arch) {
            return Ok(false);
        }
        if !inc.caps.iter().all(|c| caps.contains(&cap_name(c))) {
            return Ok(false);
        }
        if !inc.min_kernel.is_empty() {
            let min = kernel_version(&inc.min_kernel)
                .ok_or_else(|| invalid(format!("has a bad minKernel {:?}", inc.min_kernel)))?;
            if kernel < min {
                return Ok(false);
            }
        }
        let exc = &self.excludes;
        if exc.arches.iter().any(|a| a == arch) {
            return Ok(false);
        }
        if exc.caps.iter().any(|c| caps.contains(&cap_name(c))) {
            return Ok(false);
        }
        Ok(true)
    }
}

/// Converts a Docker-format profile for a container holding `caps` (names without
/// `CAP_`).
pub fn from_docker(json: &str, caps: &BTreeSet<String>) -> Result<LinuxSeccomp> {
    let p: Profile = serde_json::from_str(json).map_err(|e| {
        invalid(format!(
            "is not valid (Docker's seccomp profile format): {e}"
        ))
    })?;
    if !p.listener_path.is_empty() || p.default_action == LinuxSeccompAction::ScmpActNotify {
        return Err(invalid(
            "asks for a notify listener (SCMP_ACT_NOTIFY, listenerPath), which berth does not support",
        ));
    }
    if !p.architectures.is_empty() && !p.arch_map.is_empty() {
        return Err(invalid(
            "gives both architectures and archMap: use one of them",
        ));
    }
    let mut arches = p.architectures.clone();
    let native = native().0;
    for m in p.arch_map.iter().filter(|m| m.architecture == native) {
        arches.push(m.architecture);
        arches.extend(m.sub_architectures.iter().copied());
    }
    let kernel = running_kernel();
    let mut rules = Vec::new();
    for rule in &p.syscalls {
        if !rule.name.is_empty() && !rule.names.is_empty() {
            return Err(invalid(format!(
                "has a rule with both name {:?} and names: use one of them",
                rule.name
            )));
        }
        if rule.action == LinuxSeccompAction::ScmpActNotify {
            return Err(invalid(
                "asks for SCMP_ACT_NOTIFY, which berth does not support",
            ));
        }
        if !rule.applies(caps, kernel)? {
            continue;
        }
        let names = if rule.name.is_empty() {
            rule.names.clone()
        } else {
            vec![rule.name.clone()]
        };
        let mut out = oci_spec::runtime::LinuxSyscallBuilder::default()
            .names(names)
            .action(rule.action)
            .build()?;
        out.set_errno_ret(rule.errno_ret);
        if !rule.args.is_empty() {
            out.set_args(Some(
                rule.args
                    .iter()
                    .map(for_libcontainer)
                    .collect::<Result<_>>()?,
            ));
        }
        rules.push(out);
    }
    let mut filter = oci_spec::runtime::LinuxSeccompBuilder::default()
        .default_action(p.default_action)
        .architectures(arches)
        .syscalls(rules)
        .build()?;
    filter.set_default_errno_ret(p.default_errno_ret);
    if !p.flags.is_empty() {
        filter.set_flags(Some(p.flags));
    }
    Ok(filter)
}

/// Docker profiles read `SCMP_CMP_MASKED_EQ` as runc does, `(arg & value) == valueTwo`;
/// libcontainer reads it the other way round (see `seccomp::masked_eq_for_runc`).
fn for_libcontainer(arg: &LinuxSeccompArg) -> Result<LinuxSeccompArg> {
    if arg.op() != LinuxSeccompOperator::ScmpCmpMaskedEq {
        return Ok(*arg);
    }
    Ok(LinuxSeccompArgBuilder::default()
        .index(arg.index())
        .value(arg.value_two().unwrap_or(0))
        .value_two(arg.value())
        .op(arg.op())
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
        ],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"name": "mount", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["future"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}}
        ]
    }"#;

    fn names(f: &LinuxSeccomp) -> Vec<String> {
        f.syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .flat_map(|r| r.names().clone())
            .collect()
    }

    #[test]
    fn docker_profiles_follow_mobys_rules() {
        let f = from_docker(PROFILE, &caps(&["CHOWN"])).unwrap();
        assert_eq!(f.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(f.default_errno_ret(), Some(1));
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                f.architectures().as_ref().unwrap(),
                &vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
            );
        }
        assert_eq!(
            names(&f),
            ["read", "write", "ptrace", "mkdir", "personality"]
        );
        let mkdir = &f.syscalls().as_ref().unwrap()[2];
        assert_eq!(mkdir.errno_ret(), Some(13));
        let arg = f.syscalls().as_ref().unwrap()[3].args().as_ref().unwrap()[0];
        assert_eq!((arg.value(), arg.value_two()), (8, Some(255)));

        let admin = from_docker(PROFILE, &caps(&["SYS_ADMIN"])).unwrap();
        assert_eq!(
            names(&admin),
            ["read", "write", "mount", "mkdir", "personality"]
        );
    }

    #[test]
    fn what_berth_cannot_do_is_refused() {
        for bad in [
            "not json",
            r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#,
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x.sock"}"#,
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}"#,
        ] {
            let e = from_docker(bad, &caps(&[])).unwrap_err().to_string();
            assert!(e.contains("seccomp profile"), "{e}");
        }
        assert_eq!(kernel_version("6.1.0-18-amd64"), Some((6, 1)));
    }
}
