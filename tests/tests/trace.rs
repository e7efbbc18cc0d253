//! Acceptance: one request is one trace, across gRPC hops and the bus.
//!
//! A request enters service A over gRPC; A calls service B over gRPC and publishes on the
//! bus; a subscriber handles the message. Every span goes through berth's real pipeline
//! (`berth_telemetry::init`, OTLP/gRPC batch export) to a collector this test runs itself,
//! and the test checks the tree it receives: one trace ID, and each span's parent is the
//! span that caused it. It runs once over the in-process bus and once over nats-server.
//!
//! A process has one global subscriber, so this file holds a single test for both buses.
//! A and B are `grpc.health.v1.Health` servers so the test needs no protobuf of its own;
//! they serve the same path, which is why spans are told apart by their parents, not names.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use berth_bus::{Bus, BusExt, InProcessBus, NatsBus};
use berth_rpc::shutdown::CancellationToken;
use berth_rpc::{Endpoint, Listener, RpcError, TracedChannel};
use berth_telemetry::{TelemetryConfig, TelemetryGuard};
use berth_testkit::NatsServer;
use berth_testkit::otlp::{ReceivedSpan, SpanKind, start_collector};
use futures::StreamExt;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tracing::Instrument;

/// What A publishes once B has answered.
const DONE_SUBJECT: &str = "test.trace.done";
/// The gRPC path both A and B serve.
const CHECK_PATH: &str = "/grpc.health.v1.Health/Check";
/// Bounds every wait, so a broken pipeline fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_is_one_trace_across_grpc_and_the_bus() -> anyhow::Result<()> {
    let (collector, mut received) = start_collector().await?;
    let guard = berth_telemetry::init(&TelemetryConfig {
        service_name: "berth-trace-test".into(),
        otlp_endpoint: Some(format!("http://{collector}")),
    })?;

    let outcome = async {
        let in_process: Arc<dyn Bus> = Arc::new(InProcessBus::new());
        request_is_one_trace(in_process, &guard, &mut received)
            .await
            .context("over the in-process bus")?;

        let nats = tokio::task::spawn_blocking(NatsServer::start).await?;
        let bus: Arc<dyn Bus> = Arc::new(NatsBus::connect(nats.url()).await?);
        request_is_one_trace(bus, &guard, &mut received)
            .await
            .context("over NATS")
    }
    .await;

    guard.shutdown().await;
    outcome
}

/// Runs one request through A, B and the bus, then checks the spans the collector got.
async fn request_is_one_trace(
    bus: Arc<dyn Bus>,
    guard: &TelemetryGuard,
    received: &mut watch::Receiver<Vec<ReceivedSpan>>,
) -> anyhow::Result<()> {
    // Scenarios run one after the other and each waits for all of its spans, so whatever
    // arrives from here on belongs to this one.
    let seen_before = received.borrow().len();

    let stop = CancellationToken::new();
    let (b_endpoint, b_server) = start_service(ServiceB, &stop).await?;
    let a = ServiceA {
        b: HealthClient::new(berth_rpc::connect(&b_endpoint)?),
        bus: bus.clone(),
    };
    let (a_endpoint, a_server) = start_service(a, &stop).await?;

    // Subscribed before the request is sent: core bus messages are not kept for latecomers.
    let mut done = bus.subscribe(DONE_SUBJECT).await?;
    let (handled_tx, handled_rx) = oneshot::channel();
    let subscriber = tokio::spawn(async move {
        let Some(message) = done.next().await else {
            return;
        };
        let span = tracing::info_span!("handle_done");
        // Before entering: once the span has started, its parent is fixed.
        message.adopt_trace(&span);
        span.in_scope(|| {
            let body = message.decode::<String>();
            tracing::info!(?body, "A is done");
        });
        // Closed before the test is told, so the flush below includes it.
        drop(span);
        let _ = handled_tx.send(());
    });

    let root = tracing::info_span!("test.request");
    let traceparent = berth_telemetry::propagation::headers_of(&root)
        .remove("traceparent")
        .context("the root span has no trace context: is the OpenTelemetry layer installed?")?;
    let (trace_id, root_id) = parse_traceparent(&traceparent)?;
    let mut client = HealthClient::new(berth_rpc::connect(&a_endpoint)?);
    let reply = tokio::time::timeout(
        PATIENCE,
        client.check(HealthCheckRequest::default()).instrument(root),
    )
    .await
    .context("A did not answer")??;
    ensure!(
        reply.into_inner().status == ServingStatus::Serving as i32,
        "A answered, but not SERVING"
    );
    tokio::time::timeout(PATIENCE, handled_rx)
        .await
        .context("the subscriber never handled A's message")?
        .context("the subscriber stopped without handling A's message")?;
    subscriber.await?;

    stop.cancel();
    a_server.await??;
    b_server.await??;

    guard.flush().await;
    let waited = tokio::time::timeout(
        PATIENCE,
        received.wait_for(|all| has_every_span(&all[seen_before..])),
    )
    .await
    // Only whether it came: the guard it returns would lock the receiver.
    .map(|got| got.map(drop));
    let spans = received.borrow()[seen_before..].to_vec();
    match waited {
        Ok(Ok(())) => {}
        Ok(Err(_)) => bail!("the collector stopped"),
        Err(_) => bail!(
            "the collector did not receive every span within {PATIENCE:?}; it got:\n{}",
            dump(&spans)
        ),
    }
    check_tree(&spans, &trace_id, &root_id)
        .with_context(|| format!("spans received for this request:\n{}", dump(&spans)))
}

/// Whether `spans` hold (at least) the names and kinds one request makes, whatever their
/// IDs: the signal to stop waiting and start checking.
fn has_every_span(spans: &[ReceivedSpan]) -> bool {
    let count = |name: &str, kind: SpanKind| {
        spans
            .iter()
            .filter(|s| s.name == name && s.kind == kind)
            .count()
    };
    count("test.request", SpanKind::Internal) >= 1
        && count("a.handle", SpanKind::Internal) >= 1
        && count("handle_done", SpanKind::Internal) >= 1
        && count(CHECK_PATH, SpanKind::Client) >= 2
        && count(CHECK_PATH, SpanKind::Server) >= 2
}

/// The assertions: one trace, and the tree
/// `test.request → client → A server → a.handle → {client → B server, handle_done}`.
fn check_tree(spans: &[ReceivedSpan], trace_id: &str, root_id: &str) -> anyhow::Result<()> {
    let mut trace_ids: Vec<&str> = spans.iter().map(|s| s.trace_id.as_str()).collect();
    trace_ids.sort_unstable();
    trace_ids.dedup();
    ensure!(
        trace_ids == [trace_id],
        "expected every span in trace {trace_id}, found traces {trace_ids:?}"
    );

    let mine: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    let root = mine
        .iter()
        .find(|s| s.span_id == root_id)
        .context("the root span test.request was not received")?;
    ensure!(
        root.name == "test.request" && root.parent_span_id.is_empty(),
        "the root span must be test.request without a parent, got {root:?}"
    );
    let test_client = only_child(&mine, root, CHECK_PATH, SpanKind::Client)?;
    let a_server = only_child(&mine, test_client, CHECK_PATH, SpanKind::Server)?;
    let a_handle = only_child(&mine, a_server, "a.handle", SpanKind::Internal)?;
    let a_client = only_child(&mine, a_handle, CHECK_PATH, SpanKind::Client)?;
    let _b_server = only_child(&mine, a_client, CHECK_PATH, SpanKind::Server)?;
    let _handle_done = only_child(&mine, a_handle, "handle_done", SpanKind::Internal)?;
    ensure!(
        mine.len() == 7,
        "expected exactly the 7 spans of the tree, got {}",
        mine.len()
    );
    Ok(())
}

/// The one span named `name` of `kind` whose parent is `parent`.
fn only_child<'a>(
    spans: &[&'a ReceivedSpan],
    parent: &ReceivedSpan,
    name: &str,
    kind: SpanKind,
) -> anyhow::Result<&'a ReceivedSpan> {
    let children: Vec<&ReceivedSpan> = spans
        .iter()
        .copied()
        .filter(|s| s.parent_span_id == parent.span_id && s.name == name && s.kind == kind)
        .collect();
    match children.as_slice() {
        [only] => Ok(only),
        other => bail!(
            "expected one {kind:?} span {name} under {} {} ({}), found {}",
            parent.name,
            parent.kind.as_str_name(),
            parent.span_id,
            other.len()
        ),
    }
}

/// The trace ID and span ID of a W3C `traceparent` (`00-TRACE-SPAN-FLAGS`).
fn parse_traceparent(value: &str) -> anyhow::Result<(String, String)> {
    match value.split('-').collect::<Vec<_>>().as_slice() {
        ["00", trace, span, _flags] if trace.len() == 32 && span.len() == 16 => {
            Ok((trace.to_string(), span.to_string()))
        }
        _ => bail!("malformed traceparent {value:?}"),
    }
}

fn dump(spans: &[ReceivedSpan]) -> String {
    spans
        .iter()
        .map(|s| {
            format!(
                "  trace {} span {} parent {:16} {:8} {}",
                s.trace_id,
                s.span_id,
                s.parent_span_id,
                s.kind.as_str_name().trim_start_matches("SPAN_KIND_"),
                s.name
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Service A: the entry point. Calls B, then tells the bus it is done.
#[derive(Debug)]
struct ServiceA {
    b: HealthClient<TracedChannel>,
    bus: Arc<dyn Bus>,
}

#[tonic::async_trait]
impl Health for ServiceA {
    async fn check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let mut b = self.b.clone();
        async {
            b.check(HealthCheckRequest::default()).await?;
            self.bus
                .publish_json(DONE_SUBJECT, &"done")
                .await
                .map_err(|e| Status::internal(e.to_string()))?;
            Ok(Response::new(serving()))
        }
        .instrument(tracing::info_span!("a.handle"))
        .await
    }

    type WatchStream = futures::stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("not part of this test"))
    }
}

/// Service B: the end of the gRPC chain.
#[derive(Debug)]
struct ServiceB;

#[tonic::async_trait]
impl Health for ServiceB {
    async fn check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(serving()))
    }

    type WatchStream = futures::stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("not part of this test"))
    }
}

fn serving() -> HealthCheckResponse {
    HealthCheckResponse {
        status: ServingStatus::Serving as i32,
    }
}

/// Serves `service` the way every berth service is served, on a port the kernel picks.
async fn start_service(
    service: impl Health,
    stop: &CancellationToken,
) -> anyhow::Result<(Endpoint, JoinHandle<Result<(), RpcError>>)> {
    let listener = Listener::bind(&Endpoint::Tcp("127.0.0.1:0".into())).await?;
    let endpoint = listener.endpoint().clone();
    let routes = tonic::service::Routes::new(HealthServer::new(service));
    let server = tokio::spawn(berth_rpc::serve(
        listener,
        routes,
        stop.clone().cancelled_owned(),
    ));
    Ok((endpoint, server))
}
