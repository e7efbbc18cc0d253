//! `POST /networks/create`, `DELETE /networks/{id}`, `POST /networks/prune`, and
//! connecting containers: `POST /networks/{id}/connect` and `/disconnect`.

use std::collections::HashMap;
use std::io::Read;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use berth_proto::v1::{
    ConnectNetworkRequest, CreateNetworkRequest, DisconnectNetworkRequest, EndpointConfig, Ipam,
    IpamConfig, PruneNetworksRequest, RemoveNetworkRequest, StringList,
};
use bollard_stubs::models::{ConfigReference, EndpointSettings, Ipam as DockerIpam};
use http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::api::filters::Filters;
use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

/// The body of `POST /networks/create`: Docker's `NetworkCreateRequest`, plus the
/// deprecated `CheckDuplicate` older clients still send (names are always checked). A
/// field Docker does not have is refused, so a typo never goes unnoticed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct CreateBody {
    name: String,
    #[serde(default)]
    check_duplicate: Option<bool>,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    internal: Option<bool>,
    #[serde(default)]
    attachable: Option<bool>,
    #[serde(default)]
    ingress: Option<bool>,
    #[serde(default)]
    config_only: Option<bool>,
    #[serde(default)]
    config_from: Option<ConfigReference>,
    #[serde(default, rename = "IPAM")]
    ipam: Option<DockerIpam>,
    #[serde(default, rename = "EnableIPv4")]
    enable_ipv4: Option<bool>,
    #[serde(default, rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(default)]
    options: Option<HashMap<String, String>>,
    #[serde(default)]
    labels: Option<HashMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct ConnectBody {
    container: String,
    #[serde(default)]
    endpoint_config: Option<EndpointSettings>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct DisconnectBody {
    container: String,
    #[serde(default)]
    force: Option<bool>,
}

fn parse_body<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

/// 64 random hex characters: the network's ID on every runner.
fn new_network_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("no randomness: {e}"),
            )
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Docker's endpoint settings (run's `EndpointsConfig` values, connect's
/// `EndpointConfig`) as the runner's contract.
pub fn endpoint_config(e: EndpointSettings) -> EndpointConfig {
    let ipam = e.ipam_config.unwrap_or_default();
    EndpointConfig {
        aliases: e.aliases.unwrap_or_default(),
        ipv4_address: ipam.ipv4_address.unwrap_or_default(),
        ipv6_address: ipam.ipv6_address.unwrap_or_default(),
        links: e.links.unwrap_or_default(),
        mac_address: e.mac_address.unwrap_or_default(),
    }
}

fn create_request(body: CreateBody, id: String) -> Result<CreateNetworkRequest, ApiError> {
    let _ = body.check_duplicate;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request("the network needs a Name"));
    }
    if !matches!(body.scope.as_deref(), None | Some("" | "local")) {
        return Err(ApiError::bad_request(
            "berth's networks have scope \"local\"; swarm and global scopes do not exist here",
        ));
    }
    if body.ingress == Some(true) || body.config_only == Some(true) || body.config_from.is_some() {
        return Err(ApiError::bad_request(
            "ingress and config-only networks are swarm features berth does not have",
        ));
    }
    if body.enable_ipv4 == Some(false) {
        return Err(ApiError::bad_request("berth's networks always have IPv4"));
    }
    let ipam = body.ipam.unwrap_or_default();
    let config = ipam
        .config
        .unwrap_or_default()
        .into_iter()
        .map(|c| IpamConfig {
            subnet: c.subnet.unwrap_or_default(),
            ip_range: c.ip_range.unwrap_or_default(),
            gateway: c.gateway.unwrap_or_default(),
            aux_addresses: c.auxiliary_addresses.unwrap_or_default(),
        })
        .collect();
    Ok(CreateNetworkRequest {
        name: body.name,
        driver: body.driver.unwrap_or_default(),
        internal: body.internal.unwrap_or(false),
        attachable: body.attachable.unwrap_or(false),
        enable_ipv6: body.enable_ipv6.unwrap_or(false),
        ipam: Some(Ipam {
            driver: ipam.driver.unwrap_or_default(),
            config,
            options: ipam.options.unwrap_or_default(),
        }),
        options: body.options.unwrap_or_default(),
        labels: body.labels.unwrap_or_default(),
        id,
    })
}

pub async fn create(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let body: CreateBody = parse_body(&body, "network config")?;
    let request = create_request(body, new_network_id()?)?;
    let mut created = Vec::new();
    for mut runner in state.all_runners()? {
        match runner.create_network(request.clone()).await {
            Ok(_) => created.push(runner),
            Err(status) => {
                // All or nothing: a network only some runners have would fail later.
                for mut done in created {
                    let _ = done
                        .remove_network(RemoveNetworkRequest {
                            network: request.id.clone(),
                        })
                        .await;
                }
                return Err(status.into());
            }
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({ "Id": request.id, "Warning": "" })),
    )
        .into_response())
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    // One ID for every runner, even when the user gave a name or a prefix.
    let network = super::list::find(&state, &id).await?;
    for mut runner in state.all_runners()? {
        let removed = runner
            .remove_network(RemoveNetworkRequest {
                network: network.id.clone(),
            })
            .await;
        match removed {
            Ok(_) => {}
            Err(s) if s.code() == tonic::Code::NotFound => {}
            Err(s) => return Err(s.into()),
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn prune(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let filters = Filters::parse(q.get("filters"), &["until", "label", "label!"])?;
    let filters: HashMap<String, StringList> = ["until", "label", "label!"]
        .into_iter()
        .filter(|name| !filters.get(name).is_empty())
        .map(|name| {
            let values = filters.get(name).to_vec();
            (name.to_owned(), StringList { values })
        })
        .collect();
    let mut deleted: Vec<String> = Vec::new();
    for mut runner in state.all_runners()? {
        let pruned = runner
            .prune_networks(PruneNetworksRequest {
                filters: filters.clone(),
            })
            .await?
            .into_inner();
        for name in pruned.networks_deleted {
            if !deleted.contains(&name) {
                deleted.push(name);
            }
        }
    }
    Ok(Json(json!({ "NetworksDeleted": deleted })))
}

pub async fn connect(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body: ConnectBody = parse_body(&body, "network connect request")?;
    let mut runner = state.runner_for(&body.container).await?;
    runner
        .connect_network(ConnectNetworkRequest {
            network: id,
            container: body.container,
            endpoint: body.endpoint_config.map(endpoint_config),
        })
        .await?;
    Ok(StatusCode::OK)
}

pub async fn disconnect(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body: DisconnectBody = parse_body(&body, "network disconnect request")?;
    let mut runner = state.runner_for(&body.container).await?;
    runner
        .disconnect_network(DisconnectNetworkRequest {
            network: id,
            container: body.container,
            force: body.force.unwrap_or(false),
        })
        .await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_bodies_are_checked() {
        let body: CreateBody = serde_json::from_str(
            r#"{"Name":"n","CheckDuplicate":true,"Driver":"bridge","IPAM":{"Driver":"default","Config":[{"Subnet":"10.9.0.0/24","Gateway":"10.9.0.1"}]},"Labels":{"a":"b"}}"#,
        )
        .unwrap();
        let r = create_request(body, "x".into()).unwrap();
        assert_eq!(r.ipam.unwrap().config[0].subnet, "10.9.0.0/24");
        assert_eq!(r.labels["a"], "b");
        assert!(serde_json::from_str::<CreateBody>(r#"{"Name":"n","Subnet":"x"}"#).is_err());
        let swarm: CreateBody = serde_json::from_str(r#"{"Name":"n","Scope":"swarm"}"#).unwrap();
        assert!(create_request(swarm, "x".into()).is_err());
    }
}
