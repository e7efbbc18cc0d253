//! `GET /networks` (docker network ls) and `GET /networks/{id}` (docker network inspect),
//! in the shape of Docker's swagger `Network`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use berth_proto::v1::{InspectNetworkRequest, ListNetworksRequest, Network};
use serde_json::{Value, json};

use crate::api::filters::Filters;
use crate::api::images::convert::rfc3339;
use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

const FILTERS: &[&str] = &["name", "id", "label", "driver", "type", "scope", "dangling"];

const PREDEFINED: &[&str] = &["bridge", "host", "none"];

/// Docker's JSON for one network; `with_containers` is false for lists, where Docker
/// leaves `Containers` empty.
pub fn network_json(n: Network, with_containers: bool) -> Value {
    let ipam = n.ipam.unwrap_or_default();
    let config: Vec<Value> = ipam
        .config
        .iter()
        .map(|c| json!({ "Subnet": c.subnet, "Gateway": c.gateway }))
        .collect();
    let containers: serde_json::Map<String, Value> = if with_containers {
        n.containers
            .into_iter()
            .map(|(id, e)| {
                (
                    id,
                    json!({
                        "Name": e.name,
                        "EndpointID": e.endpoint_id,
                        "MacAddress": e.mac_address,
                        "IPv4Address": e.ipv4_address,
                        "IPv6Address": e.ipv6_address,
                    }),
                )
            })
            .collect()
    } else {
        Default::default()
    };
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": rfc3339(&n.created),
        "Scope": n.scope,
        "Driver": n.driver,
        "EnableIPv4": true,
        "EnableIPv6": n.enable_ipv6,
        "IPAM": { "Driver": "default", "Options": null, "Config": config },
        "Internal": n.internal,
        "Attachable": n.attachable,
        "Ingress": false,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "Containers": containers,
        "Options": n.options,
        "Labels": n.labels,
    })
}

/// Every network of every live runner, one entry per ID, containers merged.
pub async fn all_networks(state: &AppState) -> Result<Vec<Network>, ApiError> {
    let mut merged: Vec<Network> = Vec::new();
    for mut runner in state.all_runners()? {
        let listed = runner
            .list_networks(ListNetworksRequest::default())
            .await?
            .into_inner();
        for n in listed.networks {
            match merged.iter_mut().find(|m| m.id == n.id) {
                Some(m) => m.containers.extend(n.containers),
                None => merged.push(n),
            }
        }
    }
    Ok(merged)
}

fn accepts(filters: &Filters, n: &Network) -> Result<bool, ApiError> {
    let builtin = PREDEFINED.contains(&n.name.as_str());
    for t in filters.get("type") {
        if t != "custom" && t != "builtin" {
            return Err(ApiError::bad_request(format!(
                "invalid filter: 'type'='{t}': use custom or builtin"
            )));
        }
    }
    Ok(filters.accepts("name", |v| n.name.contains(v))
        && filters.accepts("id", |v| n.id.starts_with(v))
        && filters.accepts("driver", |v| v == n.driver)
        && filters.accepts("scope", |v| v == n.scope)
        && filters.accepts("type", |v| (v == "builtin") == builtin)
        && filters.accepts("dangling", |v| {
            let dangling = !builtin && n.containers.is_empty();
            matches!(v, "true" | "1") == dangling
        })
        && filters.accepts_labels(|k| n.labels.get(k).map(String::as_str)))
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Value>>, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    let filters = Filters::parse(q.get("filters"), FILTERS)?;
    let mut out = Vec::new();
    for n in all_networks(&state).await? {
        if accepts(&filters, &n)? {
            out.push(network_json(n, false));
        }
    }
    Ok(Json(out))
}

/// The network `id` (ID, name or ID prefix) as its runners know it.
pub async fn find(state: &AppState, id: &str) -> Result<Network, ApiError> {
    let mut found: Option<Network> = None;
    for mut runner in state.all_runners()? {
        let reply = runner
            .inspect_network(InspectNetworkRequest {
                network: id.to_owned(),
            })
            .await;
        match reply {
            Ok(r) => {
                let n = r.into_inner().network.unwrap_or_default();
                match &mut found {
                    Some(f) => f.containers.extend(n.containers),
                    None => found = Some(n),
                }
            }
            Err(s) if s.code() == tonic::Code::NotFound => continue,
            Err(s) => return Err(s.into()),
        }
    }
    found.ok_or_else(|| ApiError::not_found(format!("network {id} not found")))
}

pub async fn inspect(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    if let Some(scope) = q.get("scope").filter(|s| !s.is_empty() && *s != "local") {
        return Err(ApiError::not_found(format!(
            "network {id} not found in scope {scope}: berth's networks are local"
        )));
    }
    Ok(Json(network_json(find(&state, &id).await?, true)))
}
