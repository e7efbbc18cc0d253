//! Resolves Docker's `--user` (`uid`, `uid:gid`, `name`, `name:group`) and `--group-add`
//! against the image's /etc/passwd and /etc/group, the way Docker does (moby's
//! `user.GetExecUser`): a named user must exist, a numeric one need not; the primary
//! group comes first in the supplementary list, then the groups that list the user as a
//! member (only when no group was given). This module parses text; it reads the two files
//! only through `berth-rootpath`, inside the root filesystem it is given, and bounded.

use std::path::Path;

use crate::error::{Error, Result};

/// The identity a container process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// user id
    pub uid: u32,
    /// primary group id
    pub gid: u32,
    /// supplementary groups, the primary group first (as Docker sends them)
    pub additional_gids: Vec<u32>,
    /// home directory from passwd, `/` when the user has no entry
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?,
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).copied().unwrap_or(""),
            })
        })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(GroupEntry {
                name: f.first()?,
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
                    .unwrap_or_default(),
            })
        })
}

/// Resolves `user` (Docker's `--user`) and `group_add` against passwd/group text.
pub fn resolve(
    user: &str,
    group_add: &[String],
    passwd: &str,
    group: &str,
) -> Result<ResolvedUser> {
    let (user_arg, group_arg) = match user.split_once(':') {
        Some((u, g)) => (u, g),
        None => (user, ""),
    };
    let numeric_uid = user_arg.parse::<u32>().ok();
    let found = passwd_entries(passwd).find(|e| match (user_arg, numeric_uid) {
        ("", _) => e.uid == 0,
        (_, Some(n)) => e.uid == n,
        (name, None) => e.name == name,
    });
    let mut resolved = ResolvedUser {
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
        home: "/".into(),
    };
    match (&found, numeric_uid) {
        (Some(e), _) => {
            resolved.uid = e.uid;
            resolved.gid = e.gid;
            if !e.home.is_empty() {
                resolved.home = e.home.to_string();
            }
        }
        (None, Some(n)) => resolved.uid = n,
        (None, None) if user_arg.is_empty() => {}
        (None, None) => {
            return Err(Error::UnknownUser {
                what: "user",
                name: user_arg.into(),
                file: "/etc/passwd",
            });
        }
    }

    let mut supplementary = Vec::new();
    if !group_arg.is_empty() {
        let numeric_gid = group_arg.parse::<u32>().ok();
        let g = group_entries(group).find(|g| match numeric_gid {
            Some(n) => g.gid == n,
            None => g.name == group_arg,
        });
        resolved.gid = match (g, numeric_gid) {
            (Some(g), _) => g.gid,
            (None, Some(n)) => n,
            (None, None) => {
                return Err(Error::UnknownUser {
                    what: "group",
                    name: group_arg.into(),
                    file: "/etc/group",
                });
            }
        };
    } else if let Some(e) = &found {
        supplementary = group_entries(group)
            .filter(|g| g.members.contains(&e.name))
            .map(|g| g.gid)
            .collect();
    }

    for extra in group_add {
        let gid = match extra.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries(group)
                .find(|g| g.name == extra)
                .map(|g| g.gid)
                .ok_or_else(|| Error::UnknownUser {
                    what: "group",
                    name: extra.clone(),
                    file: "/etc/group",
                })?,
        };
        supplementary.push(gid);
    }

    resolved.additional_gids.push(resolved.gid);
    for gid in supplementary {
        if !resolved.additional_gids.contains(&gid) {
            resolved.additional_gids.push(gid);
        }
    }
    Ok(resolved)
}

/// The largest /etc/passwd or /etc/group berth reads: real ones are kilobytes, and a
/// hostile image must not make the host read gigabytes into memory.
pub const MAX_ACCOUNT_FILE_BYTES: u64 = 4 << 20;

/// Reads `/etc/passwd` and `/etc/group` inside `rootfs` (missing files count as empty,
/// as in Docker) and resolves `user` against them. Both are resolved inside the root,
/// so an image whose `/etc` (or `/etc/passwd`) links to the host's gets its own files,
/// never the host's.
pub fn resolve_in_rootfs(rootfs: &Path, user: &str, group_add: &[String]) -> Result<ResolvedUser> {
    let root = berth_rootpath::InRoot::open(rootfs)?;
    let read = |file: &'static str| -> Result<String> {
        match root.read_bounded(file, MAX_ACCOUNT_FILE_BYTES) {
            Ok(bytes) => Ok(String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned()),
            Err(berth_rootpath::RootPathError::TooLarge { .. }) => {
                Err(Error::InvalidConfig(format!(
                    "the image's {file} is larger than {} MiB: berth does not read users from \
                     a file that big; shrink it in the image",
                    MAX_ACCOUNT_FILE_BYTES >> 20
                )))
            }
            Err(e @ berth_rootpath::RootPathError::OpenRoot { .. }) => Err(e.into()),
            Err(e) => Err(Error::InvalidConfig(format!(
                "cannot read the image's {file}: {}; fix it in the image, or use a numeric \
                 --user",
                e.reason()
            ))),
        }
    };
    resolve(user, group_add, &read("/etc/passwd")?, &read("/etc/group")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str =
        "root:x:0:\nwheel:x:10:root,app\nnogroup:x:65534:\napp:x:1000:\nstaff:x:50:app\n";

    #[test]
    fn default_user_is_root_with_its_member_groups() {
        let u = resolve("", &[], PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.additional_gids, vec![0, 10]);
    }

    #[test]
    fn names_resolve_with_supplementary_groups() {
        let u = resolve("app", &[], PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.additional_gids, vec![1000, 10, 50]);
        let u = resolve("nobody", &[], PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (65534, 65534));
    }

    #[test]
    fn explicit_group_replaces_primary_and_drops_membership_groups() {
        let u = resolve("app:staff", &[], PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 50));
        assert_eq!(u.additional_gids, vec![50]);
        let u = resolve("1000:7", &[], PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 7));
    }

    #[test]
    fn unknown_numeric_ids_are_fine_unknown_names_are_not() {
        let u = resolve("4242", &[], PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        let err = resolve("ghost", &[], PASSWD, GROUP)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unable to find user ghost"), "{err}");
        assert!(resolve("app:ghosts", &[], PASSWD, GROUP).is_err());
    }

    #[test]
    fn group_add_appends() {
        let u = resolve("nobody", &["staff".into(), "99".into()], PASSWD, GROUP).unwrap();
        assert_eq!(u.additional_gids, vec![65534, 50, 99]);
    }

    #[test]
    fn an_etc_linked_to_the_hosts_is_read_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", root.path().join("etc")).unwrap();
        // The host has root in its passwd; inside the root the link points at itself.
        let err = resolve_in_rootfs(root.path(), "root", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot read the image's /etc/passwd: Too many levels of symbolic links"),
            "{err}"
        );
        assert!(
            !err.contains(&*root.path().to_string_lossy()),
            "no host path: {err}"
        );
        // Linked anywhere else on the host: the root's own (missing) files.
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/usr/../etc", root.path().join("etc")).unwrap();
        let err = resolve_in_rootfs(root.path(), "root", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unable to find user root"), "{err}");
        let u = resolve_in_rootfs(root.path(), "", &[]).unwrap();
        assert_eq!((u.uid, u.home.as_str()), (0, "/"), "no host home directory");
    }

    #[test]
    fn a_huge_passwd_is_refused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        let line = "app:x:1000:1000::/home/app:/bin/sh\n";
        let big = line.repeat((MAX_ACCOUNT_FILE_BYTES as usize / line.len()) + 1);
        std::fs::write(root.path().join("etc/passwd"), big).unwrap();
        let err = resolve_in_rootfs(root.path(), "app", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/passwd is larger than 4 MiB"), "{err}");
        std::fs::write(root.path().join("etc/passwd"), line).unwrap();
        assert_eq!(
            resolve_in_rootfs(root.path(), "app", &[]).unwrap().uid,
            1000
        );
    }
}
