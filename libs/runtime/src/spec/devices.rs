//! `--device`: a host device node made in the container (an OCI `linux.devices` entry)
//! and allowed in its device cgroup with the permissions asked (`rwm` by default), as
//! Docker does. Only character and block devices are accepted; a path that is anything
//! else is refused rather than skipped. This module only stats the host path.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
};

use crate::config::Device;
use crate::error::{Error, Result};

/// The device nodes and the cgroup rules allowing them.
pub fn devices(asked: &[Device]) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>)> {
    let mut nodes = Vec::new();
    let mut rules = Vec::new();
    for d in asked {
        let host = d.host_path.display();
        let refuse = |why: String| Error::InvalidConfig(format!("--device {host}: {why}"));
        let meta =
            std::fs::metadata(&d.host_path).map_err(|e| refuse(format!("cannot use it: {e}")))?;
        let typ = if meta.file_type().is_char_device() {
            LinuxDeviceType::C
        } else if meta.file_type().is_block_device() {
            LinuxDeviceType::B
        } else {
            return Err(refuse(
                "it is not a character or block device: give a device node such as /dev/fuse"
                    .into(),
            ));
        };
        let target = if d.container_path.is_empty() {
            d.host_path.to_string_lossy().into_owned()
        } else {
            d.container_path.clone()
        };
        if !target.starts_with('/') {
            return Err(refuse(format!(
                "the path in the container {target:?} must be absolute"
            )));
        }
        let access = if d.permissions.is_empty() {
            "rwm"
        } else {
            d.permissions.as_str()
        };
        if !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return Err(refuse(format!(
                "invalid permissions {access:?}: use a combination of r, w and m"
            )));
        }
        let (major, minor) = (
            nix::sys::stat::major(meta.rdev()) as i64,
            nix::sys::stat::minor(meta.rdev()) as i64,
        );
        nodes.push(
            LinuxDeviceBuilder::default()
                .path(target)
                .typ(typ)
                .major(major)
                .minor(minor)
                .file_mode(meta.mode() & 0o7777)
                .uid(meta.uid())
                .gid(meta.gid())
                .build()?,
        );
        rules.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(typ)
                .major(major)
                .minor(minor)
                .access(access)
                .build()?,
        );
    }
    Ok((nodes, rules))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(host: &str, container: &str, perms: &str) -> Device {
        Device {
            host_path: host.into(),
            container_path: container.into(),
            permissions: perms.into(),
        }
    }

    #[test]
    fn device_nodes_and_rules_follow_the_host_node() {
        let (nodes, rules) = devices(&[device("/dev/null", "/dev/mynull", "rw")]).unwrap();
        assert_eq!(nodes[0].path().to_str(), Some("/dev/mynull"));
        assert_eq!((nodes[0].major(), nodes[0].minor()), (1, 3));
        assert_eq!(rules[0].access().as_deref(), Some("rw"));
        let (nodes, _) = devices(&[device("/dev/zero", "", "")]).unwrap();
        assert_eq!(nodes[0].path().to_str(), Some("/dev/zero"));
        assert!(devices(&[device("/etc/passwd", "", "")]).is_err());
        assert!(devices(&[device("/dev/null", "", "rwx")]).is_err());
        assert!(devices(&[device("/dev/null", "rel", "")]).is_err());
        assert!(devices(&[device("/nonexistent", "", "")]).is_err());
    }
}
