//! Dialling another service: a lazily connected channel whose every call carries the
//! caller's trace context.

use berth_telemetry::grpc::{ClientTrace, ClientTraceLayer};
use hyper_util::rt::TokioIo;
use tonic::transport::Channel;
use tower::Layer;

use crate::{Endpoint, RpcError};

/// A channel that sends trace context; hand it to any generated client's `new`.
pub type TracedChannel = ClientTrace<Channel>;

/// A channel to `endpoint`. It connects on first use and reconnects after failures, so a
/// service may start before its peers.
pub fn connect(endpoint: &Endpoint) -> Result<TracedChannel, RpcError> {
    let client_err = |source| RpcError::Client {
        endpoint: endpoint.clone(),
        source,
    };
    let channel = match endpoint {
        Endpoint::Tcp(hostport) => match crate::tls::process_tls() {
            Some(tls) => tonic::transport::Endpoint::from_shared(format!("https://{hostport}"))
                .map_err(client_err)?
                .tls_config(tls.client())
                .map_err(client_err)?
                .connect_lazy(),
            None => tonic::transport::Endpoint::from_shared(format!("http://{hostport}"))
                .map_err(client_err)?
                .connect_lazy(),
        },
        Endpoint::Unix(path) => {
            let path = path.clone();
            // The URI is a placeholder: the connector below decides where to connect.
            tonic::transport::Endpoint::from_static("http://localhost").connect_with_connector_lazy(
                tower::service_fn(move |_: tonic::transport::Uri| {
                    let path = path.clone();
                    async move {
                        let stream = tokio::net::UnixStream::connect(path).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(stream))
                    }
                }),
            )
        }
    };
    Ok(ClientTraceLayer::default().layer(channel))
}
