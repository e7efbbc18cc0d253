use std::collections::HashMap;

use super::*;

fn map(k: &str, v: &str) -> HashMap<String, String> {
    HashMap::from([(k.to_owned(), v.to_owned())])
}

/// A spec with every field set to something other than its default.
fn everything() -> proto::ContainerSpec {
    let d = |s: i64| {
        Some(prost_types::Duration {
            seconds: s,
            nanos: 5,
        })
    };
    proto::ContainerSpec {
        name: "web".into(),
        image: "busybox:latest".into(),
        image_id: Some(proto::Digest {
            value: format!("sha256:{}", "a".repeat(64)),
        }),
        manifest_digest: Some(proto::Digest {
            value: format!("sha256:{}", "b".repeat(64)),
        }),
        cmd: Some(proto::StringList {
            values: vec!["sleep".into(), "1".into()],
        }),
        entrypoint: Some(proto::StringList { values: vec![] }),
        env: vec!["A=1".into()],
        working_dir: "/w".into(),
        user: "1:2".into(),
        labels: map("l", "v"),
        tty: true,
        open_stdin: true,
        stdin_once: true,
        attach_stdin: true,
        attach_stdout: true,
        attach_stderr: true,
        hostname: "h".into(),
        domainname: "d".into(),
        exposed_ports: vec!["80/tcp".into()],
        volumes: vec!["/data".into()],
        stop_signal: "SIGINT".into(),
        stop_timeout: Some(-1),
        healthcheck: Some(proto::HealthConfig {
            test: vec!["CMD".into(), "true".into()],
            interval: d(1),
            timeout: d(2),
            start_period: d(3),
            start_interval: d(4),
            retries: 5,
        }),
        host_config: Some(proto::HostConfig {
            binds: vec!["/a:/b:ro".into()],
            mounts: vec![proto::Mount {
                r#type: proto::MountType::Volume as i32,
                source: "v".into(),
                target: "/v".into(),
                read_only: true,
                propagation: "rshared".into(),
                no_copy: true,
                volume_labels: map("vl", "1"),
                volume_driver_options: map("o", "2"),
                tmpfs_size_bytes: 7,
                tmpfs_mode: 0o700,
            }],
            port_bindings: HashMap::from([(
                "80/tcp".to_owned(),
                proto::PortBindingList {
                    bindings: vec![proto::PortBinding {
                        host_ip: "127.0.0.1".into(),
                        host_port: "8080".into(),
                    }],
                },
            )]),
            publish_all_ports: true,
            network_mode: "bridge".into(),
            resources: Some(proto::Resources {
                memory: Some(1),
                memory_swap: Some(2),
                memory_reservation: Some(3),
                cpu_shares: Some(4),
                nano_cpus: Some(5),
                cpu_quota: Some(6),
                cpu_period: Some(7),
                cpuset_cpus: Some("0".into()),
                cpuset_mems: Some("0".into()),
                pids_limit: Some(8),
                blkio_weight: Some(9),
                oom_kill_disable: Some(true),
            }),
            auto_remove: true,
            restart_policy: Some(proto::RestartPolicy {
                name: proto::RestartPolicyName::OnFailure as i32,
                max_retry_count: 3,
            }),
            tmpfs: map("/t", "size=1m"),
            privileged: true,
            cap_add: vec!["NET_ADMIN".into()],
            cap_drop: vec!["MKNOD".into()],
            security_opt: vec!["no-new-privileges".into()],
            ulimits: vec![proto::Ulimit {
                name: "nofile".into(),
                soft: 1,
                hard: 2,
            }],
            readonly_rootfs: true,
            log_config: Some(proto::LogConfig {
                r#type: "local".into(),
                config: map("max-size", "1m"),
            }),
            dns: vec!["1.1.1.1".into()],
            dns_options: vec!["ndots:1".into()],
            dns_search: vec!["example".into()],
            extra_hosts: vec!["h:1.2.3.4".into()],
            shm_size: 1 << 20,
            init: Some(true),
            ipc_mode: "host".into(),
            pid_mode: "host".into(),
            uts_mode: "host".into(),
            userns_mode: "host".into(),
            cgroupns_mode: "private".into(),
            cgroup_parent: "/p".into(),
            devices: vec![proto::DeviceMapping {
                path_on_host: "/dev/null".into(),
                path_in_container: "/dev/n".into(),
                cgroup_permissions: "rw".into(),
            }],
            group_add: vec!["audio".into()],
            sysctls: map("net.ipv4.ip_forward", "1"),
            oom_score_adj: 10,
            volumes_from: vec!["other".into()],
            links: vec!["a:b".into()],
            console_size: Some(proto::TtySize {
                height: 24,
                width: 80,
            }),
        }),
        endpoints: HashMap::from([(
            "net".to_owned(),
            proto::EndpointConfig {
                aliases: vec!["x".into()],
                ipv4_address: "10.0.0.2".into(),
                ipv6_address: "::2".into(),
                links: vec!["l".into()],
                mac_address: "02:42:ac:11:00:02".into(),
            },
        )]),
        network_disabled: true,
        platform: Some(proto::Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: "v1".into(),
            os_version: "1".into(),
        }),
    }
}

#[test]
fn a_spec_comes_back_from_the_domain_as_it_went_in() {
    let wire = everything();
    let domain = ContainerSpec::from(wire.clone());
    assert_eq!(
        domain.cmd.as_deref(),
        Some(&["sleep".to_owned(), "1".to_owned()][..])
    );
    assert_eq!(
        domain.entrypoint,
        Some(vec![]),
        "an empty entrypoint clears, it is not unset"
    );
    assert_eq!(
        domain.healthcheck.as_ref().unwrap().interval,
        Some(1_000_000_005)
    );
    assert_eq!(proto::ContainerSpec::from(&domain), wire);
}

#[test]
fn the_stored_spec_reads_back_and_old_rows_take_defaults() {
    let domain = ContainerSpec::from(everything());
    let json = serde_json::to_vec(&domain).unwrap();
    assert_eq!(
        serde_json::from_slice::<ContainerSpec>(&json).unwrap(),
        domain
    );
    let old: ContainerSpec =
        serde_json::from_str(r#"{"name":"web","host_config":{"network_mode":"none"}}"#).unwrap();
    assert_eq!(old.host_config.unwrap().network_mode, "none");
    assert_eq!(old.cmd, None);
}

#[test]
fn unknown_enum_values_read_as_docker_does() {
    let mut wire = everything();
    let host = wire.host_config.as_mut().unwrap();
    host.mounts[0].r#type = 99;
    host.restart_policy.as_mut().unwrap().name = proto::RestartPolicyName::Unspecified as i32;
    let domain = ContainerSpec::from(wire);
    let host = domain.host_config.unwrap();
    assert_eq!(
        host.mounts[0].kind, None,
        "mounts.rs reports the missing type"
    );
    assert_eq!(host.restart_policy.unwrap().name, RestartPolicyName::No);
}

#[test]
fn specs_an_older_runner_wrote_are_carried_over() {
    use redb::TableDefinition;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("containers.redb");
    let wire = everything();
    {
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(TableDefinition::<&str, &[u8]>::new("specs"))
            .unwrap()
            .insert("c1", wire.encode_to_vec().as_slice())
            .unwrap();
        tx.commit().unwrap();
    }
    let records = Records::open(&path).unwrap();
    assert_eq!(records.spec("c1").unwrap(), None);
    assert_eq!(migrate_legacy_specs(&records).unwrap(), 1);
    assert_eq!(records.spec("c1").unwrap(), Some(ContainerSpec::from(wire)));
    assert!(records.legacy_specs().unwrap().is_empty());
    assert_eq!(migrate_legacy_specs(&records).unwrap(), 0);
}
