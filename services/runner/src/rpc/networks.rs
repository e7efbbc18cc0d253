//! The network RPCs: each turns a request into a call on [`Networks`].

use std::sync::Arc;

use berth_proto::v1::*;
use tonic::{Response, Status};

use crate::containers::Containers;
use crate::rpc::network_view as view;

fn network_spec(r: CreateNetworkRequest) -> crate::networks::NetworkSpec {
    use crate::networks as n;
    n::NetworkSpec {
        name: r.name,
        driver: r.driver,
        internal: r.internal,
        attachable: r.attachable,
        enable_ipv6: r.enable_ipv6,
        ipam: r.ipam.map(|i| n::IpamSpec {
            driver: i.driver,
            config: i
                .config
                .into_iter()
                .map(|c| n::IpamConfig {
                    subnet: c.subnet,
                    ip_range: c.ip_range,
                    gateway: c.gateway,
                    aux_addresses: c.aux_addresses,
                })
                .collect(),
            options: i.options,
        }),
        options: r.options,
        labels: r.labels,
        id: r.id,
    }
}

pub async fn create(
    c: &Arc<Containers>,
    r: CreateNetworkRequest,
) -> Result<Response<CreateNetworkResponse>, Status> {
    let network = c.networks.create(network_spec(r)).await?;
    Ok(Response::new(CreateNetworkResponse {
        id: network.id,
        warning: String::new(),
    }))
}

pub async fn remove(
    c: &Arc<Containers>,
    r: RemoveNetworkRequest,
) -> Result<Response<RemoveNetworkResponse>, Status> {
    c.networks.remove(&**c, &r.network).await?;
    Ok(Response::new(RemoveNetworkResponse {}))
}

/// Every network; the gateway filters, as it merges the lists of several runners.
pub async fn list(
    c: &Arc<Containers>,
    _: ListNetworksRequest,
) -> Result<Response<ListNetworksResponse>, Status> {
    let containers = c
        .records
        .all()
        .map_err(|e| Status::internal(e.to_string()))?;
    let networks = c
        .networks
        .store
        .all()?
        .iter()
        .map(|n| view::network(n, &containers))
        .collect();
    Ok(Response::new(ListNetworksResponse { networks }))
}

pub async fn inspect(
    c: &Arc<Containers>,
    r: InspectNetworkRequest,
) -> Result<Response<InspectNetworkResponse>, Status> {
    let network = c.networks.find(&r.network)?;
    let containers = c
        .records
        .all()
        .map_err(|e| Status::internal(e.to_string()))?;
    Ok(Response::new(InspectNetworkResponse {
        network: Some(view::network(&network, &containers)),
    }))
}

pub async fn connect(
    c: &Arc<Containers>,
    r: ConnectNetworkRequest,
) -> Result<Response<ConnectNetworkResponse>, Status> {
    c.networks
        .connect(
            &**c,
            &r.network,
            &r.container,
            r.endpoint.map(super::convert::endpoint_config).as_ref(),
        )
        .await?;
    Ok(Response::new(ConnectNetworkResponse {}))
}

pub async fn disconnect(
    c: &Arc<Containers>,
    r: DisconnectNetworkRequest,
) -> Result<Response<DisconnectNetworkResponse>, Status> {
    c.networks
        .disconnect(&**c, &r.network, &r.container)
        .await?;
    Ok(Response::new(DisconnectNetworkResponse {}))
}

pub async fn prune(
    c: &Arc<Containers>,
    r: PruneNetworksRequest,
) -> Result<Response<PruneNetworksResponse>, Status> {
    let networks_deleted = c.networks.prune(&**c, &super::filters(r.filters)).await?;
    Ok(Response::new(PruneNetworksResponse { networks_deleted }))
}
