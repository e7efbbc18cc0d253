//! The registry proxy: berth's only door to upstream registries. Pulls, pushes, logins and
//! searches go through it; credentials stay in its memory and never touch disk.
//!
//! It stores no image content itself: what it pulls it writes to the image store, what it
//! pushes it reads from there. Pull and push are here; login, search and distribution
//! inspect still answer UNIMPLEMENTED.

mod login;
mod progress;
mod pull;
mod push;

use std::sync::Arc;

use berth_bus::Bus;
use berth_proto::v1 as proto;
use berth_proto::v1::image_store_client::ImageStoreClient;
use berth_proto::v1::registry_proxy_server::{RegistryProxy, RegistryProxyServer};
use berth_rpc::{Endpoint, Listener, TracedChannel};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub use berth_registry::TransportConfig;

use crate::progress::{Lines as _, Progress};

/// How long a pull's own lease lasts at most: a proxy that dies mid-pull leaves its
/// blobs to GC after this.
const PULL_LEASE_SECONDS: u64 = 3600;

/// What the registry proxy needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Endpoint,
    /// Where pulled content is written and pushed content read.
    pub image_store: Endpoint,
    pub bus: Arc<dyn Bus>,
    /// How registries are reached: certs.d and insecure registries.
    pub transport: TransportConfig,
}

/// How registries are reached, as flags of both `berth-registry-proxy` and `berthd`.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// A registry spoken to without certificate checks, and over plain HTTP when HTTPS
    /// fails, as dockerd's --insecure-registry: a CIDR or HOST[:PORT] (repeatable, or
    /// comma-separated). Loopback always is.
    #[arg(
        long = "insecure-registry",
        env = "BERTH_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    pub insecure_registries: Vec<String>,
    /// Per-registry CAs and client certificates in Docker's layout:
    /// DIR/HOST[:PORT]/*.crt, *.cert with *.key.
    #[arg(
        long,
        env = "BERTH_REGISTRY_CERTS_DIR",
        default_value = "/etc/docker/certs.d"
    )]
    pub registry_certs_dir: std::path::PathBuf,
}

impl RegistryArgs {
    pub fn transport(&self) -> TransportConfig {
        TransportConfig {
            certs_dir: self.registry_certs_dir.clone(),
            insecure: self.insecure_registries.clone(),
        }
    }
}

/// Why the registry proxy could not run.
#[derive(Debug, thiserror::Error)]
pub enum RegistryProxyError {
    #[error(transparent)]
    Rpc(#[from] berth_rpc::RpcError),
}

#[derive(Debug)]
struct RegistryProxyService {
    image_store: ImageStoreClient<TracedChannel>,
    transport: TransportConfig,
    _bus: Arc<dyn Bus>,
}

type Stream<T> = tonic::codegen::BoxStream<T>;

fn credentials(auth: Option<proto::RegistryAuth>) -> Option<berth_registry::Credentials> {
    auth.map(|a| berth_registry::Credentials {
        username: a.username,
        password: a.password,
        identity_token: a.identity_token,
        registry_token: a.registry_token,
    })
}

fn platform(p: Option<proto::Platform>) -> berth_oci::platform::Platform {
    match p {
        Some(p) if !p.os.is_empty() || !p.architecture.is_empty() => {
            berth_oci::platform::Platform::new(
                if p.os.is_empty() { "linux" } else { &p.os },
                &p.architecture,
                (!p.variant.is_empty()).then_some(p.variant.as_str()),
            )
        }
        _ => berth_oci::platform::Platform::host(),
    }
}

#[tonic::async_trait]
impl RegistryProxy for RegistryProxyService {
    async fn pull(
        &self,
        r: Request<proto::PullRequest>,
    ) -> Result<Response<Stream<Progress>>, Status> {
        let r = r.into_inner();
        let reference = berth_oci::Reference::parse(&r.reference)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        if r.all_tags {
            return Err(Status::unimplemented(
                "docker pull --all-tags is not supported by berth yet; pull each tag",
            ));
        }
        let registry = Arc::new(pull::registry_for(
            &reference,
            &self.transport,
            credentials(r.auth),
        ));
        // The pull's blobs stay under a lease until the image that names them is
        // recorded: a `docker rmi` meanwhile runs GC, which must not take them.
        let (lease_id, own_lease) = if r.lease_id.is_empty() {
            let lease = self
                .image_store
                .clone()
                .create_lease(proto::CreateLeaseRequest {
                    ttl_seconds: PULL_LEASE_SECONDS,
                    protect: Vec::new(),
                    labels: [("berth.pull".to_owned(), r.reference.clone())].into(),
                })
                .await?
                .into_inner();
            (lease.lease_id, true)
        } else {
            (r.lease_id, false)
        };
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let job = pull::Pull {
            store: self.image_store.clone(),
            registry,
            reference,
            platform: platform(r.platform),
            lease_id: lease_id.clone(),
            progress: tx,
        };
        let mut store = self.image_store.clone();
        Ok(Response::new(streamed("pull", rx, async move {
            let result = job.run().await.map_err(|e| (e.to_string(), e.http_code()));
            if own_lease {
                let _ = store
                    .delete_lease(proto::DeleteLeaseRequest { lease_id })
                    .await;
            }
            result
        })))
    }

    async fn login(
        &self,
        r: Request<proto::LoginRequest>,
    ) -> Result<Response<proto::LoginResponse>, Status> {
        let auth = r
            .into_inner()
            .auth
            .ok_or_else(|| Status::invalid_argument("no credentials to log in with"))?;
        let domain = login::domain(&auth.server_address);
        let registry =
            berth_registry::Registry::new(&domain, self.transport.clone(), credentials(Some(auth)));
        login::check(&registry).await?;
        Ok(Response::new(proto::LoginResponse {
            status: "Login Succeeded".into(),
            identity_token: String::new(),
        }))
    }

    async fn push(
        &self,
        r: Request<proto::PushRequest>,
    ) -> Result<Response<Stream<Progress>>, Status> {
        let r = r.into_inner();
        let reference = berth_oci::Reference::parse(&r.reference)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        if reference.digest().is_some() {
            return Err(Status::invalid_argument(
                "cannot push a digest reference: push NAME:TAG",
            ));
        }
        let registry = Arc::new(pull::registry_for(
            &reference,
            &self.transport,
            credentials(r.auth),
        ));
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let job = push::Push {
            store: self.image_store.clone(),
            registry,
            reference,
            progress: tx,
        };
        Ok(Response::new(streamed("push", rx, async move {
            job.run().await.map_err(|e| (e.to_string(), e.http_code()))
        })))
    }
}

use futures::StreamExt as _;

/// The RPC's stream of a pull or push run on its own task: the job's lines, then, if it
/// fails, one error line (message and the HTTP status Docker would answer).
fn streamed<T: Send + 'static>(
    what: &'static str,
    lines: tokio::sync::mpsc::Receiver<Progress>,
    job: impl std::future::Future<Output = Result<T, (String, i32)>> + Send + 'static,
) -> Stream<Progress> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        let mut lines = tokio_stream::wrappers::ReceiverStream::new(lines);
        let job = tokio::spawn(job);
        while let Some(line) = lines.next().await {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        if let Ok(Err((message, code))) = job.await {
            tracing::info!(error = %message, "{what} failed");
            let _ = tx.send(Progress::failed(&message, code)).await;
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok))
}

/// Serves until `shutdown` is cancelled.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), RegistryProxyError> {
    let image_store = ImageStoreClient::new(berth_rpc::connect(&config.image_store)?)
        .max_decoding_message_size(64 << 20);
    let listener = Listener::bind(&config.listen).await?;
    let service = RegistryProxyServer::new(RegistryProxyService {
        image_store,
        transport: config.transport,
        _bus: config.bus,
    });
    berth_rpc::serve_service(listener, service, shutdown.cancelled_owned()).await?;
    Ok(())
}
