//! The `HostConfig` fields of Docker's create that berth knows but cannot honour yet.
//! Each is refused with a 400 naming it when set to anything but its default, so a
//! container never runs without a limit, isolation or device rule its creator asked
//! for. (Fields Docker's API does not have at all are accepted and ignored, as Docker
//! does.) The docker CLI sends every field, most at their defaults: those pass.

use bollard_stubs::models::{
    HostConfig, HostConfigCgroupnsModeEnum as Cgroupns, HostConfigIsolationEnum as Isolation,
};

use crate::error::ApiError;

fn set<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

fn text(v: &Option<String>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

fn nonzero(v: Option<i64>) -> bool {
    v.unwrap_or(0) != 0
}

/// A 400 naming the first field set that berth would otherwise ignore.
pub fn refuse_unhonoured(h: &HostConfig) -> Result<(), ApiError> {
    let checks: &[(bool, &str)] = &[
        (text(&h.cgroup_parent), "CgroupParent (--cgroup-parent)"),
        (text(&h.cgroup), "Cgroup"),
        (
            h.cgroupns_mode.is_some_and(|m| m != Cgroupns::EMPTY),
            "CgroupnsMode (--cgroupns)",
        ),
        (text(&h.uts_mode), "UTSMode (--uts)"),
        (text(&h.userns_mode), "UsernsMode (--userns)"),
        (
            h.blkio_weight.unwrap_or(0) != 0,
            "BlkioWeight (--blkio-weight)",
        ),
        (
            set(&h.blkio_weight_device),
            "BlkioWeightDevice (--blkio-weight-device)",
        ),
        (
            set(&h.blkio_device_read_bps),
            "BlkioDeviceReadBps (--device-read-bps)",
        ),
        (
            set(&h.blkio_device_write_bps),
            "BlkioDeviceWriteBps (--device-write-bps)",
        ),
        (
            set(&h.blkio_device_read_iops),
            "BlkioDeviceReadIOps (--device-read-iops)",
        ),
        (
            set(&h.blkio_device_write_iops),
            "BlkioDeviceWriteIOps (--device-write-iops)",
        ),
        (nonzero(h.cpu_period), "CpuPeriod (--cpu-period)"),
        (nonzero(h.cpu_quota), "CpuQuota (--cpu-quota)"),
        (
            nonzero(h.cpu_realtime_period),
            "CpuRealtimePeriod (--cpu-rt-period)",
        ),
        (
            nonzero(h.cpu_realtime_runtime),
            "CpuRealtimeRuntime (--cpu-rt-runtime)",
        ),
        (text(&h.cpuset_cpus), "CpusetCpus (--cpuset-cpus)"),
        (text(&h.cpuset_mems), "CpusetMems (--cpuset-mems)"),
        (nonzero(h.cpu_count), "CpuCount (--cpu-count)"),
        (nonzero(h.cpu_percent), "CpuPercent (--cpu-percent)"),
        (
            set(&h.device_cgroup_rules),
            "DeviceCgroupRules (--device-cgroup-rule)",
        ),
        (set(&h.device_requests), "DeviceRequests (--gpus)"),
        (nonzero(h.kernel_memory_tcp), "KernelMemoryTCP"),
        (
            nonzero(h.memory_reservation),
            "MemoryReservation (--memory-reservation)",
        ),
        (
            h.memory_swappiness.is_some_and(|s| s != -1),
            "MemorySwappiness (--memory-swappiness)",
        ),
        (
            h.oom_kill_disable.unwrap_or(false),
            "OomKillDisable (--oom-kill-disable)",
        ),
        (nonzero(h.oom_score_adj), "OomScoreAdj (--oom-score-adj)"),
        (nonzero(h.io_maximum_iops), "IOMaximumIOps"),
        (nonzero(h.io_maximum_bandwidth), "IOMaximumBandwidth"),
        (h.init.unwrap_or(false), "Init (--init)"),
        (text(&h.volume_driver), "VolumeDriver (--volume-driver)"),
        (set(&h.volumes_from), "VolumesFrom (--volumes-from)"),
        (
            h.storage_opt.as_ref().is_some_and(|o| !o.is_empty()),
            "StorageOpt (--storage-opt)",
        ),
        (
            h.runtime
                .as_ref()
                .is_some_and(|r| !r.is_empty() && r != "runc"),
            "Runtime (--runtime)",
        ),
        (
            h.isolation
                .is_some_and(|i| !matches!(i, Isolation::EMPTY | Isolation::DEFAULT)),
            "Isolation (--isolation)",
        ),
        (
            h.masked_paths.is_some(),
            "MaskedPaths (--security-opt systempaths=unconfined)",
        ),
        (
            h.readonly_paths.is_some(),
            "ReadonlyPaths (--security-opt systempaths=unconfined)",
        ),
        (
            h.annotations.as_ref().is_some_and(|a| !a.is_empty()),
            "Annotations (--annotation)",
        ),
    ];
    match checks.iter().find(|(on, _)| *on) {
        Some((_, what)) => Err(ApiError::bad_request(format!(
            "{what} is not supported by berth: drop the option (berth refuses it rather than run the container without it)"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_settings_are_named() {
        // What `docker run` sends with no options (abridged: its defaults).
        let cli: HostConfig = serde_json::from_str(
            r#"{"CgroupnsMode":"","IpcMode":"","OomScoreAdj":0,"PidMode":"","UTSMode":"",
            "UsernsMode":"","Isolation":"","CgroupParent":"","BlkioWeight":0,
            "BlkioWeightDevice":[],"CpuPeriod":0,"CpusetCpus":"","Devices":[],
            "DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,
            "MemorySwappiness":-1,"OomKillDisable":false,"Ulimits":[],"MaskedPaths":null,
            "ReadonlyPaths":null,"VolumesFrom":null,"VolumeDriver":"","Cgroup":""}"#,
        )
        .unwrap();
        assert!(refuse_unhonoured(&cli).is_ok());
        let asked = HostConfig {
            cpuset_cpus: Some("0".into()),
            ..cli
        };
        let e = refuse_unhonoured(&asked).unwrap_err();
        assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        assert!(e.message.contains("--cpuset-cpus"), "{}", e.message);
    }
}
