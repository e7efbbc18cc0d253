//! Docker's `--security-opt` values (`HostConfig.SecurityOpt`), read as moby reads them:
//! `key=value` or the legacy `key:value`. Every value is either honoured or refused with
//! an error naming it: a container never runs with weaker or other security than asked.
//! This module only parses; it reads `/sys` to tell whether the host has AppArmor or
//! SELinux, and never changes anything.

use std::path::Path;

use crate::error::{Error, Result};

/// What the security options ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOpts {
    /// `no-new-privileges` (or `no-new-privileges=true`)
    pub no_new_privileges: bool,
    /// `seccomp=unconfined`
    pub seccomp_unconfined: bool,
    /// `seccomp=<profile JSON>`: the docker CLI reads the file and sends its content
    pub seccomp_profile: Option<String>,
}

/// Whether the host runs AppArmor (as runc's `apparmor.IsEnabled` tells).
fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
        && Path::new("/sys/kernel/security/apparmor").exists()
}

/// Whether the host runs SELinux.
fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

fn refuse(opt: &str, why: &str) -> Error {
    Error::InvalidConfig(format!("security option {opt:?}: {why}"))
}

impl SecurityOpts {
    /// Reads Docker's `SecurityOpt` list.
    pub fn parse(opts: &[String]) -> Result<SecurityOpts> {
        let mut out = SecurityOpts::default();
        for opt in opts {
            // A profile's JSON holds ':' and '=' of its own: split at the first of either.
            let (key, value) = match opt.find(['=', ':']) {
                Some(i) => (&opt[..i], Some(&opt[i + 1..])),
                None => (opt.as_str(), None),
            };
            match (key, value) {
                ("no-new-privileges", None | Some("true")) => out.no_new_privileges = true,
                ("no-new-privileges", Some("false")) => out.no_new_privileges = false,
                ("seccomp", Some("unconfined")) => {
                    out.seccomp_unconfined = true;
                    out.seccomp_profile = None;
                }
                ("seccomp", Some("builtin" | "default")) => {
                    out.seccomp_unconfined = false;
                    out.seccomp_profile = None;
                }
                ("seccomp", Some(profile)) if profile.trim_start().starts_with('{') => {
                    out.seccomp_unconfined = false;
                    out.seccomp_profile = Some(profile.to_string());
                }
                ("seccomp", _) => {
                    return Err(refuse(
                        "seccomp",
                        "give unconfined, builtin, or a profile (docker reads --security-opt seccomp=FILE and sends its JSON)",
                    ));
                }
                ("apparmor", Some("unconfined")) => {}
                ("apparmor", _) if !apparmor_enabled() => {
                    return Err(refuse(
                        opt,
                        "this host has no AppArmor, so the profile cannot be applied; use apparmor=unconfined or drop the option",
                    ));
                }
                ("apparmor", _) => {
                    return Err(refuse(
                        opt,
                        "berth does not apply AppArmor profiles yet; use apparmor=unconfined or drop the option",
                    ));
                }
                ("label", Some("disable")) => {}
                ("label", _) if !selinux_enabled() => {
                    return Err(refuse(
                        opt,
                        "this host has no SELinux, so the label cannot be applied; use label=disable or drop the option",
                    ));
                }
                ("label", _) => {
                    return Err(refuse(
                        opt,
                        "berth does not apply SELinux labels yet; use label=disable or drop the option",
                    ));
                }
                _ => {
                    return Err(refuse(
                        opt,
                        "not supported by berth; supported: no-new-privileges, seccomp=unconfined|builtin|PROFILE, apparmor=unconfined, label=disable",
                    ));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &[&str]) -> Result<SecurityOpts> {
        SecurityOpts::parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn docker_forms_are_read() {
        let o = parse(&["no-new-privileges", "seccomp=unconfined"]).unwrap();
        assert!(o.no_new_privileges && o.seccomp_unconfined);
        let o = parse(&["no-new-privileges:true", "seccomp:unconfined"]).unwrap();
        assert!(o.no_new_privileges && o.seccomp_unconfined);
        assert!(
            !parse(&["no-new-privileges=false"])
                .unwrap()
                .no_new_privileges
        );
        let o = parse(&[r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#]).unwrap();
        assert_eq!(
            o.seccomp_profile.as_deref(),
            Some(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#)
        );
        assert!(parse(&["apparmor=unconfined", "label=disable", "label:disable"]).is_ok());
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_by_name() {
        for opt in [
            "seccomp=/etc/profile.json",
            "no-new-privileges=maybe",
            "systempaths=unconfined",
            "writable-cgroups=true",
        ] {
            let e = parse(&[opt]).unwrap_err().to_string();
            assert!(e.contains(opt.split(['=', ':']).next().unwrap()), "{e}");
        }
        if !apparmor_enabled() {
            let e = parse(&["apparmor=docker-default"]).unwrap_err().to_string();
            assert!(
                e.contains("apparmor=docker-default") && e.contains("AppArmor"),
                "{e}"
            );
        }
        if !selinux_enabled() {
            let e = parse(&["label=type:svirt_apache_t"])
                .unwrap_err()
                .to_string();
            assert!(e.contains("SELinux"), "{e}");
        }
    }
}
