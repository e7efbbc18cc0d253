//! `--mount` in (`HostConfig.Mounts`) and `Mounts` out (inspect, ps). Whatever of
//! Docker's mount options berth cannot honour is refused here with a 400 naming it: a
//! mount silently done differently than asked is worse than no mount.

use berth_proto::v1::{Mount, MountPoint, MountType};
use bollard_stubs::models::{
    Mount as DockerMount, MountPoint as DockerMountPoint, MountPointTypeEnum, MountTypeEnum,
};

use crate::error::ApiError;

fn refuse(what: &str) -> ApiError {
    ApiError::bad_request(format!(
        "invalid mount config: {what} is not supported by berth; drop it from --mount"
    ))
}

/// One `--mount` as the runner takes it.
pub fn mount(m: DockerMount) -> Result<Mount, ApiError> {
    let kind = match m.typ {
        Some(MountTypeEnum::BIND) => MountType::Bind,
        Some(MountTypeEnum::VOLUME) => MountType::Volume,
        Some(MountTypeEnum::TMPFS) => MountType::Tmpfs,
        Some(MountTypeEnum::NPIPE) => return Err(refuse("type=npipe (Windows only)")),
        Some(MountTypeEnum::CLUSTER) => return Err(refuse("type=cluster (swarm only)")),
        Some(MountTypeEnum::EMPTY) | None => {
            return Err(ApiError::bad_request(
                "invalid mount config: the mount type is missing: use type=bind, volume or tmpfs",
            ));
        }
    };
    // Docker itself ignores consistency on Linux; anything else is a typo.
    match m.consistency.as_deref() {
        None | Some("" | "default" | "consistent" | "cached" | "delegated") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid mount config: unknown consistency {other:?}"
            )));
        }
    }
    let mut out = Mount {
        r#type: kind as i32,
        source: m.source.unwrap_or_default(),
        target: m.target.unwrap_or_default(),
        read_only: m.read_only.unwrap_or(false),
        ..Default::default()
    };
    if let Some(b) = m.bind_options {
        if b.non_recursive == Some(true) {
            return Err(refuse("bind-recursive=disabled"));
        }
        if b.create_mountpoint == Some(true) {
            return Err(refuse("bind-create-src"));
        }
        if b.read_only_force_recursive == Some(true) {
            return Err(refuse("bind-recursive=readonly"));
        }
        out.propagation = b.propagation.map(|p| p.to_string()).unwrap_or_default();
    }
    if let Some(v) = m.volume_options {
        if v.subpath.as_deref().is_some_and(|s| !s.is_empty()) {
            return Err(refuse("volume-subpath"));
        }
        if let Some(driver) = v.driver_config {
            match driver.name.as_deref() {
                None | Some("" | "local") => {}
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "volume driver {other:?} is not available: berth has only the \"local\" driver"
                    )));
                }
            }
            out.volume_driver_options = driver.options.unwrap_or_default();
        }
        out.no_copy = v.no_copy.unwrap_or(false);
        out.volume_labels = v.labels.unwrap_or_default();
    }
    if let Some(t) = m.tmpfs_options {
        if t.options.as_ref().is_some_and(|o| !o.is_empty()) {
            return Err(refuse("tmpfs options other than size and mode"));
        }
        let size = t.size_bytes.unwrap_or(0);
        let mode = t.mode.unwrap_or(0);
        if size < 0 || !(0..=0o7777).contains(&mode) {
            return Err(ApiError::bad_request(format!(
                "invalid mount config: tmpfs size {size} or mode {mode:o} is out of range"
            )));
        }
        out.tmpfs_size_bytes = size as u64;
        out.tmpfs_mode = mode as u32;
    }
    Ok(out)
}

/// Docker's `MountPoint`, as inspect and ps show it.
pub fn mount_point(m: &MountPoint) -> DockerMountPoint {
    let typ = match MountType::try_from(m.r#type).unwrap_or(MountType::Unspecified) {
        MountType::Bind => MountPointTypeEnum::BIND,
        MountType::Volume => MountPointTypeEnum::VOLUME,
        MountType::Tmpfs => MountPointTypeEnum::TMPFS,
        MountType::Unspecified => MountPointTypeEnum::EMPTY,
    };
    DockerMountPoint {
        typ: Some(typ),
        name: (!m.name.is_empty()).then(|| m.name.clone()),
        source: Some(m.source.clone()),
        destination: Some(m.destination.clone()),
        driver: (!m.driver.is_empty()).then(|| m.driver.clone()),
        mode: Some(m.mode.clone()),
        rw: Some(m.rw),
        propagation: Some(m.propagation.clone()),
    }
}

#[cfg(test)]
mod tests {
    use bollard_stubs::models::{MountBindOptions, MountTmpfsOptions, MountVolumeOptions};

    use super::*;

    fn docker(typ: MountTypeEnum) -> DockerMount {
        DockerMount {
            typ: Some(typ),
            target: Some("/t".into()),
            ..Default::default()
        }
    }

    #[test]
    fn carries_what_berth_does() {
        let mut t = docker(MountTypeEnum::TMPFS);
        t.tmpfs_options = Some(MountTmpfsOptions {
            size_bytes: Some(1 << 20),
            mode: Some(0o1770),
            options: None,
        });
        let m = mount(t).unwrap();
        assert_eq!((m.tmpfs_size_bytes, m.tmpfs_mode), (1 << 20, 0o1770));
        let mut v = docker(MountTypeEnum::VOLUME);
        v.volume_options = Some(MountVolumeOptions {
            no_copy: Some(true),
            ..Default::default()
        });
        assert!(mount(v).unwrap().no_copy);
    }

    #[test]
    fn refuses_what_berth_does_not() {
        let msg = |m: DockerMount| mount(m).unwrap_err().message;
        assert!(msg(docker(MountTypeEnum::NPIPE)).contains("npipe"));
        assert!(msg(DockerMount::default()).contains("type is missing"));
        let mut b = docker(MountTypeEnum::BIND);
        b.bind_options = Some(MountBindOptions {
            non_recursive: Some(true),
            ..Default::default()
        });
        assert!(msg(b).contains("bind-recursive=disabled"));
        let mut v = docker(MountTypeEnum::VOLUME);
        v.volume_options = Some(MountVolumeOptions {
            subpath: Some("sub".into()),
            ..Default::default()
        });
        assert!(msg(v).contains("volume-subpath"));
        let mut c = docker(MountTypeEnum::BIND);
        c.consistency = Some("fast".into());
        assert!(msg(c).contains("consistency"));
    }
}
