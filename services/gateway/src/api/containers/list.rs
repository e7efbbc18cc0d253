//! `GET /containers/json` (docker ps) and `GET /containers/{id}/json` (docker inspect).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use berth_proto::v1::{ContainerStatus, InspectContainerRequest, ListContainersRequest};
use serde_json::{Value, json};

use super::mounts::mount_point;
use crate::api::filters::Filters;
use crate::api::images::convert::rfc3339;
use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

const FILTERS: &[&str] = &["id", "name", "label", "status", "ancestor", "exited"];

fn state_name(status: i32) -> &'static str {
    match ContainerStatus::try_from(status).unwrap_or(ContainerStatus::Unspecified) {
        ContainerStatus::Created => "created",
        ContainerStatus::Running => "running",
        ContainerStatus::Paused => "paused",
        ContainerStatus::Restarting => "restarting",
        ContainerStatus::Removing => "removing",
        _ => "exited",
    }
}

/// Docker's `Status` column: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created".
fn status_text(state: &str, exit_code: i32, since: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let ago = (now - since).max(0);
    let human = match ago {
        0 => "Less than a second".to_owned(),
        s if s < 60 => format!("{s} seconds"),
        s if s < 3600 => format!("{} minutes", s / 60),
        s => format!("{} hours", s / 3600),
    };
    match state {
        "running" => format!("Up {human}"),
        "paused" => format!("Up {human} (Paused)"),
        "created" => "Created".to_owned(),
        "restarting" => format!("Restarting ({exit_code}) {human} ago"),
        _ => format!("Exited ({exit_code}) {human} ago"),
    }
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Value>>, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let filters = Filters::parse(q.get("filters"), FILTERS)?;
    let all = q.flag("all")? || !filters.get("status").is_empty();
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .filter(|l| *l > 0);
    let mut out = Vec::new();
    for mut runner in state.all_runners()? {
        let listed = runner
            .list_containers(ListContainersRequest {
                all,
                ..Default::default()
            })
            .await?
            .into_inner();
        for c in listed.containers {
            let st = state_name(c.state);
            let name = c.names.first().cloned().unwrap_or_default();
            let keep = filters.accepts("id", |v| c.id.starts_with(v))
                && filters.accepts("name", |v| name.contains(v))
                && filters.accepts("status", |v| v == st)
                && filters.accepts("ancestor", |v| c.image == v)
                && filters.accepts("exited", |v| st == "exited" && v.parse() == Ok(c.exit_code))
                && filters.accepts_labels(|k| c.labels.get(k).map(String::as_str));
            if !keep {
                continue;
            }
            let since = match st {
                "running" | "paused" => c.started_at.as_ref().map(|t| t.seconds),
                _ => c.finished_at.as_ref().map(|t| t.seconds),
            }
            .unwrap_or(0);
            out.push(json!({
                "Id": c.id,
                "Names": c.names.iter().map(|n| format!("/{n}")).collect::<Vec<_>>(),
                "Image": c.image,
                "ImageID": c.image_id.map(|d| d.value).unwrap_or_default(),
                "Command": c.command,
                "Created": c.created.map(|t| t.seconds).unwrap_or(0),
                "Ports": c.ports.iter().map(|p| json!({
                    "IP": p.ip, "PrivatePort": p.private_port, "PublicPort": p.public_port, "Type": p.protocol,
                })).collect::<Vec<_>>(),
                "Labels": c.labels,
                "State": st,
                "Status": status_text(st, c.exit_code, since),
                "HostConfig": { "NetworkMode": c.network_mode },
                "NetworkSettings": { "Networks": networks_json(c.networks) },
                "Mounts": c.mounts.iter().map(mount_point).collect::<Vec<_>>(),
            }));
        }
    }
    if let Some(limit) = limit {
        out.truncate(limit as usize);
    }
    Ok(Json(out))
}

pub async fn inspect(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut runner = state.runner_for(&id).await?;
    let c = runner
        .inspect_container(InspectContainerRequest {
            container: id,
            size: false,
        })
        .await?
        .into_inner();
    let s = c.state.unwrap_or_default();
    let st = state_name(s.status);
    let spec = c.spec.unwrap_or_default();
    let host = spec.host_config.clone().unwrap_or_default();
    let res = host.resources.clone().unwrap_or_default();
    Ok(Json(json!({
        "Id": c.id,
        "Created": rfc3339(&c.created),
        "Path": c.path,
        "Args": c.args,
        "State": {
            "Status": st,
            "Running": matches!(st, "running" | "paused" | "restarting"),
            "Paused": st == "paused",
            "Restarting": st == "restarting",
            "OOMKilled": s.oom_killed,
            "Dead": false,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": rfc3339(&s.started_at),
            "FinishedAt": rfc3339(&s.finished_at),
        },
        "Image": c.image_id.map(|d| d.value).unwrap_or_default(),
        "Name": format!("/{}", c.name),
        "RestartCount": c.restart_count,
        "Driver": c.driver,
        "Platform": c.platform,
        "LogPath": c.log_path,
        "HostConfig": {
            "Memory": res.memory.unwrap_or(0),
            "MemorySwap": res.memory_swap.unwrap_or(0),
            "CpuShares": res.cpu_shares.unwrap_or(0),
            "NanoCpus": res.nano_cpus.unwrap_or(0),
            "PidsLimit": res.pids_limit,
            "AutoRemove": host.auto_remove,
            "RestartPolicy": restart_policy(host.restart_policy.as_ref()),
            "NetworkMode": if host.network_mode.is_empty() { "bridge".to_owned() } else { host.network_mode.clone() },
            "Binds": host.binds,
            "Tmpfs": host.tmpfs,
            "Privileged": host.privileged,
            "ReadonlyRootfs": host.readonly_rootfs,
        },
        "Config": {
            // Docker shows the hostname a container got, the short ID by default.
            "Hostname": if spec.hostname.is_empty() { c.id.get(..12).unwrap_or_default().to_owned() } else { spec.hostname.clone() },
            "User": spec.user,
            "Tty": spec.tty,
            "OpenStdin": spec.open_stdin,
            "Env": spec.env,
            "Cmd": spec.cmd.map(|c| c.values),
            "Entrypoint": spec.entrypoint.map(|e| e.values),
            "Image": spec.image,
            "WorkingDir": spec.working_dir,
            "Labels": spec.labels,
        },
        "NetworkSettings": network_settings(c.network_settings.unwrap_or_default()),
        "Mounts": c.mounts.iter().map(mount_point).collect::<Vec<_>>(),
    })))
}

/// Docker's NetworkSettings: the bridge endpoint at the top level too, as the CLI reads
/// `.NetworkSettings.IPAddress`.
fn network_settings(n: berth_proto::v1::NetworkSettings) -> Value {
    let ports: serde_json::Map<String, Value> = n
        .ports
        .into_iter()
        .map(|(port, list)| {
            let bindings: Vec<Value> = list
                .bindings
                .into_iter()
                .map(|b| json!({ "HostIp": b.host_ip, "HostPort": b.host_port }))
                .collect();
            (port, json!(bindings))
        })
        .collect();
    let bridge = n.networks.get("bridge").cloned().unwrap_or_default();
    let networks = networks_json(n.networks);
    json!({
        "Ports": ports,
        "IPAddress": bridge.ip_address,
        "Gateway": bridge.gateway,
        "IPPrefixLen": bridge.ip_prefix_len,
        "MacAddress": bridge.mac_address,
        "Networks": networks,
    })
}

/// Docker's `HostConfig.RestartPolicy`: `{"Name": "no"}` when none was given.
fn restart_policy(p: Option<&berth_proto::v1::RestartPolicy>) -> serde_json::Value {
    use berth_proto::v1::RestartPolicyName as N;
    let (name, max) = p.map_or((N::No, 0), |p| (p.name(), p.max_retry_count));
    let name = match name {
        N::Always => "always",
        N::UnlessStopped => "unless-stopped",
        N::OnFailure => "on-failure",
        N::No | N::Unspecified => "no",
    };
    json!({ "Name": name, "MaximumRetryCount": max })
}

/// `NetworkSettings.Networks`: Docker's `EndpointSettings` per network name.
fn networks_json(
    networks: std::collections::HashMap<String, berth_proto::v1::EndpointSettings>,
) -> serde_json::Map<String, Value> {
    networks
        .into_iter()
        .map(|(name, e)| {
            let endpoint = json!({
                "IPAMConfig": null,
                "Links": null,
                "Aliases": if e.aliases.is_empty() { Value::Null } else { json!(e.aliases) },
                "MacAddress": e.mac_address,
                "DriverOpts": null,
                "NetworkID": e.network_id,
                "EndpointID": e.endpoint_id,
                "Gateway": e.gateway,
                "IPAddress": e.ip_address,
                "IPPrefixLen": e.ip_prefix_len,
                "IPv6Gateway": e.ipv6_gateway,
                "GlobalIPv6Address": e.global_ipv6_address,
                "GlobalIPv6PrefixLen": e.global_ipv6_prefix_len,
                "DNSNames": if e.dns_names.is_empty() { Value::Null } else { json!(e.dns_names) },
            });
            (name, endpoint)
        })
        .collect()
}
