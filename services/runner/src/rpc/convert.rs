//! The create request's spec between the wire (berth_proto) and the runner's own types
//! (containers::spec), both ways: in from CreateContainer, out for InspectContainer.

use berth_proto::v1 as proto;
use prost::Message as _;

use crate::containers::record::{RecordError, Records};
use crate::containers::spec::*;

/// Rewrites the specs a runner before the domain types stored as protobuf into JSON
/// rows; returns how many. A row that does not decode stays where it was, so nothing is
/// lost, and its container inspects without a spec, as it did when its row was unread.
pub fn migrate_legacy_specs(records: &Records) -> Result<usize, RecordError> {
    let mut migrated = 0;
    for (id, bytes) in records.legacy_specs()? {
        match proto::ContainerSpec::decode(bytes.as_slice()) {
            Ok(spec) => {
                records.migrate_spec(&id, &ContainerSpec::from(spec))?;
                migrated += 1;
            }
            Err(e) => {
                tracing::warn!(container = %id, error = %e, "an old container spec does not decode");
            }
        }
    }
    Ok(migrated)
}

fn digest(d: Option<proto::Digest>) -> String {
    d.map(|d| d.value).unwrap_or_default()
}

fn proto_digest(value: &str) -> Option<proto::Digest> {
    (!value.is_empty()).then(|| proto::Digest {
        value: value.to_owned(),
    })
}

fn nanos(d: Option<prost_types::Duration>) -> Option<i64> {
    d.map(|d| {
        d.seconds
            .saturating_mul(1_000_000_000)
            .saturating_add(d.nanos.into())
    })
}

fn duration(nanos: Option<i64>) -> Option<prost_types::Duration> {
    nanos.map(|n| prost_types::Duration {
        seconds: n / 1_000_000_000,
        nanos: (n % 1_000_000_000) as i32,
    })
}

impl From<proto::ContainerSpec> for ContainerSpec {
    fn from(s: proto::ContainerSpec) -> Self {
        ContainerSpec {
            name: s.name,
            image: s.image,
            image_id: digest(s.image_id),
            manifest_digest: digest(s.manifest_digest),
            cmd: s.cmd.map(|l| l.values),
            entrypoint: s.entrypoint.map(|l| l.values),
            env: s.env,
            working_dir: s.working_dir,
            user: s.user,
            labels: s.labels,
            tty: s.tty,
            open_stdin: s.open_stdin,
            stdin_once: s.stdin_once,
            attach_stdin: s.attach_stdin,
            attach_stdout: s.attach_stdout,
            attach_stderr: s.attach_stderr,
            hostname: s.hostname,
            domainname: s.domainname,
            exposed_ports: s.exposed_ports,
            volumes: s.volumes,
            stop_signal: s.stop_signal,
            stop_timeout: s.stop_timeout,
            healthcheck: s.healthcheck.map(|h| HealthConfig {
                test: h.test,
                interval: nanos(h.interval),
                timeout: nanos(h.timeout),
                start_period: nanos(h.start_period),
                start_interval: nanos(h.start_interval),
                retries: h.retries,
            }),
            host_config: s.host_config.map(HostConfig::from),
            endpoints: s
                .endpoints
                .into_iter()
                .map(|(k, e)| (k, endpoint_config(e)))
                .collect(),
            network_disabled: s.network_disabled,
            platform: s.platform.map(|p| Platform {
                os: p.os,
                architecture: p.architecture,
                variant: p.variant,
                os_version: p.os_version,
            }),
        }
    }
}

impl From<&ContainerSpec> for proto::ContainerSpec {
    fn from(s: &ContainerSpec) -> Self {
        let list = |l: &Option<Vec<String>>| {
            l.as_ref().map(|values| proto::StringList {
                values: values.clone(),
            })
        };
        proto::ContainerSpec {
            name: s.name.clone(),
            image: s.image.clone(),
            image_id: proto_digest(&s.image_id),
            manifest_digest: proto_digest(&s.manifest_digest),
            cmd: list(&s.cmd),
            entrypoint: list(&s.entrypoint),
            env: s.env.clone(),
            working_dir: s.working_dir.clone(),
            user: s.user.clone(),
            labels: s.labels.clone(),
            tty: s.tty,
            open_stdin: s.open_stdin,
            stdin_once: s.stdin_once,
            attach_stdin: s.attach_stdin,
            attach_stdout: s.attach_stdout,
            attach_stderr: s.attach_stderr,
            hostname: s.hostname.clone(),
            domainname: s.domainname.clone(),
            exposed_ports: s.exposed_ports.clone(),
            volumes: s.volumes.clone(),
            stop_signal: s.stop_signal.clone(),
            stop_timeout: s.stop_timeout,
            healthcheck: s.healthcheck.as_ref().map(|h| proto::HealthConfig {
                test: h.test.clone(),
                interval: duration(h.interval),
                timeout: duration(h.timeout),
                start_period: duration(h.start_period),
                start_interval: duration(h.start_interval),
                retries: h.retries,
            }),
            host_config: s.host_config.as_ref().map(proto::HostConfig::from),
            endpoints: s
                .endpoints
                .iter()
                .map(|(k, e)| (k.clone(), proto_endpoint_config(e)))
                .collect(),
            network_disabled: s.network_disabled,
            platform: s.platform.as_ref().map(|p| proto::Platform {
                os: p.os.clone(),
                architecture: p.architecture.clone(),
                variant: p.variant.clone(),
                os_version: p.os_version.clone(),
            }),
        }
    }
}

pub fn endpoint_config(e: proto::EndpointConfig) -> EndpointConfig {
    EndpointConfig {
        aliases: e.aliases,
        ipv4_address: e.ipv4_address,
        ipv6_address: e.ipv6_address,
        links: e.links,
        mac_address: e.mac_address,
    }
}

fn proto_endpoint_config(e: &EndpointConfig) -> proto::EndpointConfig {
    proto::EndpointConfig {
        aliases: e.aliases.clone(),
        ipv4_address: e.ipv4_address.clone(),
        ipv6_address: e.ipv6_address.clone(),
        links: e.links.clone(),
        mac_address: e.mac_address.clone(),
    }
}

fn restart_policy_name(n: i32) -> RestartPolicyName {
    use proto::RestartPolicyName as P;
    match P::try_from(n).unwrap_or(P::Unspecified) {
        P::Always => RestartPolicyName::Always,
        P::UnlessStopped => RestartPolicyName::UnlessStopped,
        P::OnFailure => RestartPolicyName::OnFailure,
        P::No | P::Unspecified => RestartPolicyName::No,
    }
}

fn proto_restart_policy_name(n: RestartPolicyName) -> proto::RestartPolicyName {
    use proto::RestartPolicyName as P;
    match n {
        RestartPolicyName::No => P::No,
        RestartPolicyName::Always => P::Always,
        RestartPolicyName::UnlessStopped => P::UnlessStopped,
        RestartPolicyName::OnFailure => P::OnFailure,
    }
}

fn mount_kind(t: i32) -> Option<MountKind> {
    match proto::MountType::try_from(t).ok()? {
        proto::MountType::Bind => Some(MountKind::Bind),
        proto::MountType::Volume => Some(MountKind::Volume),
        proto::MountType::Tmpfs => Some(MountKind::Tmpfs),
        proto::MountType::Unspecified => None,
    }
}

pub fn proto_mount_kind(k: Option<MountKind>) -> proto::MountType {
    match k {
        Some(MountKind::Bind) => proto::MountType::Bind,
        Some(MountKind::Volume) => proto::MountType::Volume,
        Some(MountKind::Tmpfs) => proto::MountType::Tmpfs,
        None => proto::MountType::Unspecified,
    }
}

pub fn log_config(l: proto::LogConfig) -> LogConfig {
    LogConfig {
        r#type: l.r#type,
        config: l.config,
    }
}

impl From<proto::HostConfig> for HostConfig {
    fn from(h: proto::HostConfig) -> Self {
        HostConfig {
            binds: h.binds,
            mounts: h
                .mounts
                .into_iter()
                .map(|m| Mount {
                    kind: mount_kind(m.r#type),
                    source: m.source,
                    target: m.target,
                    read_only: m.read_only,
                    propagation: m.propagation,
                    no_copy: m.no_copy,
                    volume_labels: m.volume_labels,
                    volume_driver_options: m.volume_driver_options,
                    tmpfs_size_bytes: m.tmpfs_size_bytes,
                    tmpfs_mode: m.tmpfs_mode,
                })
                .collect(),
            port_bindings: h
                .port_bindings
                .into_iter()
                .map(|(k, l)| {
                    let bindings = l
                        .bindings
                        .into_iter()
                        .map(|b| PortBinding {
                            host_ip: b.host_ip,
                            host_port: b.host_port,
                        })
                        .collect();
                    (k, bindings)
                })
                .collect(),
            publish_all_ports: h.publish_all_ports,
            network_mode: h.network_mode,
            resources: h.resources.map(|r| Resources {
                memory: r.memory,
                memory_swap: r.memory_swap,
                memory_reservation: r.memory_reservation,
                cpu_shares: r.cpu_shares,
                nano_cpus: r.nano_cpus,
                cpu_quota: r.cpu_quota,
                cpu_period: r.cpu_period,
                cpuset_cpus: r.cpuset_cpus,
                cpuset_mems: r.cpuset_mems,
                pids_limit: r.pids_limit,
                blkio_weight: r.blkio_weight,
                oom_kill_disable: r.oom_kill_disable,
            }),
            auto_remove: h.auto_remove,
            restart_policy: h.restart_policy.map(|p| RestartPolicy {
                name: restart_policy_name(p.name),
                max_retry_count: p.max_retry_count,
            }),
            tmpfs: h.tmpfs,
            privileged: h.privileged,
            cap_add: h.cap_add,
            cap_drop: h.cap_drop,
            security_opt: h.security_opt,
            ulimits: h
                .ulimits
                .into_iter()
                .map(|u| Ulimit {
                    name: u.name,
                    soft: u.soft,
                    hard: u.hard,
                })
                .collect(),
            readonly_rootfs: h.readonly_rootfs,
            log_config: h.log_config.map(log_config),
            dns: h.dns,
            dns_options: h.dns_options,
            dns_search: h.dns_search,
            extra_hosts: h.extra_hosts,
            shm_size: h.shm_size,
            init: h.init,
            ipc_mode: h.ipc_mode,
            pid_mode: h.pid_mode,
            uts_mode: h.uts_mode,
            userns_mode: h.userns_mode,
            cgroupns_mode: h.cgroupns_mode,
            cgroup_parent: h.cgroup_parent,
            devices: h
                .devices
                .into_iter()
                .map(|d| DeviceMapping {
                    path_on_host: d.path_on_host,
                    path_in_container: d.path_in_container,
                    cgroup_permissions: d.cgroup_permissions,
                })
                .collect(),
            group_add: h.group_add,
            sysctls: h.sysctls,
            oom_score_adj: h.oom_score_adj,
            volumes_from: h.volumes_from,
            links: h.links,
            console_size: h.console_size.map(|s| TtySize {
                height: s.height,
                width: s.width,
            }),
        }
    }
}

impl From<&HostConfig> for proto::HostConfig {
    fn from(h: &HostConfig) -> Self {
        proto::HostConfig {
            binds: h.binds.clone(),
            mounts: h
                .mounts
                .iter()
                .map(|m| proto::Mount {
                    r#type: proto_mount_kind(m.kind) as i32,
                    source: m.source.clone(),
                    target: m.target.clone(),
                    read_only: m.read_only,
                    propagation: m.propagation.clone(),
                    no_copy: m.no_copy,
                    volume_labels: m.volume_labels.clone(),
                    volume_driver_options: m.volume_driver_options.clone(),
                    tmpfs_size_bytes: m.tmpfs_size_bytes,
                    tmpfs_mode: m.tmpfs_mode,
                })
                .collect(),
            port_bindings: h
                .port_bindings
                .iter()
                .map(|(k, l)| {
                    let bindings = l
                        .iter()
                        .map(|b| proto::PortBinding {
                            host_ip: b.host_ip.clone(),
                            host_port: b.host_port.clone(),
                        })
                        .collect();
                    (k.clone(), proto::PortBindingList { bindings })
                })
                .collect(),
            publish_all_ports: h.publish_all_ports,
            network_mode: h.network_mode.clone(),
            resources: h.resources.as_ref().map(|r| proto::Resources {
                memory: r.memory,
                memory_swap: r.memory_swap,
                memory_reservation: r.memory_reservation,
                cpu_shares: r.cpu_shares,
                nano_cpus: r.nano_cpus,
                cpu_quota: r.cpu_quota,
                cpu_period: r.cpu_period,
                cpuset_cpus: r.cpuset_cpus.clone(),
                cpuset_mems: r.cpuset_mems.clone(),
                pids_limit: r.pids_limit,
                blkio_weight: r.blkio_weight,
                oom_kill_disable: r.oom_kill_disable,
            }),
            auto_remove: h.auto_remove,
            restart_policy: h.restart_policy.as_ref().map(|p| proto::RestartPolicy {
                name: proto_restart_policy_name(p.name) as i32,
                max_retry_count: p.max_retry_count,
            }),
            tmpfs: h.tmpfs.clone(),
            privileged: h.privileged,
            cap_add: h.cap_add.clone(),
            cap_drop: h.cap_drop.clone(),
            security_opt: h.security_opt.clone(),
            ulimits: h
                .ulimits
                .iter()
                .map(|u| proto::Ulimit {
                    name: u.name.clone(),
                    soft: u.soft,
                    hard: u.hard,
                })
                .collect(),
            readonly_rootfs: h.readonly_rootfs,
            log_config: h.log_config.as_ref().map(|l| proto::LogConfig {
                r#type: l.r#type.clone(),
                config: l.config.clone(),
            }),
            dns: h.dns.clone(),
            dns_options: h.dns_options.clone(),
            dns_search: h.dns_search.clone(),
            extra_hosts: h.extra_hosts.clone(),
            shm_size: h.shm_size,
            init: h.init,
            ipc_mode: h.ipc_mode.clone(),
            pid_mode: h.pid_mode.clone(),
            uts_mode: h.uts_mode.clone(),
            userns_mode: h.userns_mode.clone(),
            cgroupns_mode: h.cgroupns_mode.clone(),
            cgroup_parent: h.cgroup_parent.clone(),
            devices: h
                .devices
                .iter()
                .map(|d| proto::DeviceMapping {
                    path_on_host: d.path_on_host.clone(),
                    path_in_container: d.path_in_container.clone(),
                    cgroup_permissions: d.cgroup_permissions.clone(),
                })
                .collect(),
            group_add: h.group_add.clone(),
            sysctls: h.sysctls.clone(),
            oom_score_adj: h.oom_score_adj,
            volumes_from: h.volumes_from.clone(),
            links: h.links.clone(),
            console_size: h.console_size.map(|s| proto::TtySize {
                height: s.height,
                width: s.width,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
