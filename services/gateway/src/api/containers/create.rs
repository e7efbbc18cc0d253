//! `POST /containers/create` (docker create, the first half of docker run).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use berth_proto::v1::{
    ContainerSpec, CreateContainerRequest, DeviceMapping, HostConfig, PortBinding, PortBindingList,
    Resources, RestartPolicy, RestartPolicyName, StringList, Ulimit,
};
use bollard_stubs::models::{ContainerConfig, HostConfig as DockerHostConfig, NetworkingConfig};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

/// The body: a container config with the host config and network config beside it.
/// Fields Docker's API does not have are accepted and ignored, as Docker does (serde
/// skips them; newer clients send fields older daemons lack). `HostConfig` fields berth
/// knows but cannot honour are refused when set (see `unhonoured`).
#[derive(Debug, Deserialize)]
struct CreateBody {
    #[serde(flatten)]
    config: ContainerConfig,
    #[serde(rename = "HostConfig", default)]
    host_config: Option<DockerHostConfig>,
    #[serde(rename = "NetworkingConfig", default)]
    networking_config: Option<NetworkingConfig>,
}

/// Docker's `RestartPolicy`, checked as Docker checks it.
fn restart_policy(h: &DockerHostConfig) -> Result<Option<RestartPolicy>, ApiError> {
    use bollard_stubs::models::RestartPolicyNameEnum as Docker;
    let Some(p) = &h.restart_policy else {
        return Ok(None);
    };
    let max = p.maximum_retry_count.unwrap_or(0);
    let name = match p.name.unwrap_or(Docker::EMPTY) {
        Docker::EMPTY | Docker::NO => RestartPolicyName::No,
        Docker::ALWAYS => RestartPolicyName::Always,
        Docker::UNLESS_STOPPED => RestartPolicyName::UnlessStopped,
        Docker::ON_FAILURE => RestartPolicyName::OnFailure,
    };
    if max < 0 {
        return Err(ApiError::bad_request(
            "invalid restart policy: maximum retry count cannot be negative",
        ));
    }
    if max != 0 && name != RestartPolicyName::OnFailure {
        return Err(ApiError::bad_request(format!(
            "invalid restart policy: maximum retry count can only be used with 'on-failure', not {:?}",
            p.name.map(|n| n.to_string()).unwrap_or_default()
        )));
    }
    if name != RestartPolicyName::No && h.auto_remove.unwrap_or(false) {
        return Err(ApiError::bad_request(
            "conflicting options: cannot use auto-remove (--rm) with a restart policy",
        ));
    }
    Ok(Some(RestartPolicy {
        name: name as i32,
        max_retry_count: max as i32,
    }))
}

fn host_config(h: DockerHostConfig) -> Result<HostConfig, ApiError> {
    super::unhonoured::refuse_unhonoured(&h)?;
    let restart = restart_policy(&h)?;
    let mounts = h
        .mounts
        .unwrap_or_default()
        .into_iter()
        .map(super::mounts::mount)
        .collect::<Result<_, _>>()?;
    Ok(HostConfig {
        binds: h.binds.unwrap_or_default(),
        mounts,
        port_bindings: h
            .port_bindings
            .unwrap_or_default()
            .into_iter()
            .map(|(port, bindings)| {
                let bindings = bindings
                    .unwrap_or_default()
                    .into_iter()
                    .map(|b| PortBinding {
                        host_ip: b.host_ip.unwrap_or_default(),
                        host_port: b.host_port.unwrap_or_default(),
                    })
                    .collect();
                (port, PortBindingList { bindings })
            })
            .collect(),
        publish_all_ports: h.publish_all_ports.unwrap_or(false),
        network_mode: h.network_mode.unwrap_or_default(),
        resources: Some(Resources {
            memory: h.memory.filter(|m| *m != 0),
            memory_swap: h.memory_swap.filter(|m| *m != 0),
            cpu_shares: h.cpu_shares.filter(|c| *c != 0),
            nano_cpus: h.nano_cpus.filter(|c| *c != 0),
            pids_limit: h.pids_limit.filter(|p| *p != 0),
            ..Default::default()
        }),
        auto_remove: h.auto_remove.unwrap_or(false),
        restart_policy: restart,
        tmpfs: h.tmpfs.unwrap_or_default(),
        privileged: h.privileged.unwrap_or(false),
        cap_add: h.cap_add.unwrap_or_default(),
        cap_drop: h.cap_drop.unwrap_or_default(),
        security_opt: h.security_opt.unwrap_or_default(),
        readonly_rootfs: h.readonly_rootfs.unwrap_or(false),
        shm_size: h.shm_size.unwrap_or(0).max(0) as u64,
        group_add: h.group_add.unwrap_or_default(),
        ulimits: h
            .ulimits
            .unwrap_or_default()
            .into_iter()
            .map(|u| Ulimit {
                name: u.name.unwrap_or_default(),
                soft: u.soft.unwrap_or(0),
                hard: u.hard.unwrap_or(0),
            })
            .collect(),
        ipc_mode: h.ipc_mode.unwrap_or_default(),
        pid_mode: h.pid_mode.unwrap_or_default(),
        devices: h
            .devices
            .unwrap_or_default()
            .into_iter()
            .map(|d| DeviceMapping {
                path_on_host: d.path_on_host.unwrap_or_default(),
                path_in_container: d.path_in_container.unwrap_or_default(),
                cgroup_permissions: d.cgroup_permissions.unwrap_or_default(),
            })
            .collect(),
        sysctls: h.sysctls.unwrap_or_default().into_iter().collect(),
        log_config: h.log_config.map(|l| berth_proto::v1::LogConfig {
            r#type: l.typ.unwrap_or_default(),
            config: l.config.unwrap_or_default(),
        }),
        ..Default::default()
    })
}

pub async fn create(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let body: CreateBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid container config: {e}")))?;
    let c = body.config;
    let image = c
        .image
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad_request("config is missing the Image"))?;
    let spec = ContainerSpec {
        name: q.get("name").unwrap_or("").to_owned(),
        image,
        cmd: c.cmd.map(|values| StringList { values }),
        entrypoint: c.entrypoint.map(|values| StringList { values }),
        env: c.env.unwrap_or_default(),
        working_dir: c.working_dir.unwrap_or_default(),
        user: c.user.unwrap_or_default(),
        labels: c
            .labels
            .unwrap_or_default()
            .into_iter()
            .collect::<HashMap<_, _>>(),
        tty: c.tty.unwrap_or(false),
        open_stdin: c.open_stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
        attach_stdin: c.attach_stdin.unwrap_or(false),
        attach_stdout: c.attach_stdout.unwrap_or(false),
        attach_stderr: c.attach_stderr.unwrap_or(false),
        hostname: c.hostname.unwrap_or_default(),
        domainname: c.domainname.unwrap_or_default(),
        exposed_ports: c.exposed_ports.unwrap_or_default().into_keys().collect(),
        stop_signal: c.stop_signal.unwrap_or_default(),
        stop_timeout: c.stop_timeout.map(|t| t as i32),
        volumes: c.volumes.unwrap_or_default().into_keys().collect(),
        host_config: body.host_config.map(host_config).transpose()?,
        endpoints: body
            .networking_config
            .and_then(|n| n.endpoints_config)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, e)| (name, crate::api::networks::endpoint_config(e)))
            .collect(),
        network_disabled: c.network_disabled.unwrap_or(false),
        ..Default::default()
    };
    let mut runner = state.any_runner()?;
    let created = runner
        .create_container(CreateContainerRequest { spec: Some(spec) })
        .await
        .map_err(|status| {
            // The CLI pulls and retries on 404 "No such image"; berth cannot pull yet.
            ApiError::from(status)
        })?
        .into_inner();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "Id": created.id, "Warnings": created.warnings })),
    )
        .into_response())
}
