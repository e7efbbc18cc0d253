//! An OTLP/gRPC trace collector inside the test process: berth's processes export their
//! spans to it, and the test reads the trees they form.

use std::net::SocketAddr;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
pub use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// One span as the collector received it; IDs in lowercase hex, an empty parent for a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSpan {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub kind: SpanKind,
}

/// An OTLP/gRPC trace receiver that keeps every span exported to it.
#[derive(Debug)]
struct Collector {
    spans: watch::Sender<Vec<ReceivedSpan>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .map(|s| ReceivedSpan {
                trace_id: hex(&s.trace_id),
                span_id: hex(&s.span_id),
                parent_span_id: hex(&s.parent_span_id),
                kind: SpanKind::try_from(s.kind).unwrap_or(SpanKind::Unspecified),
                name: s.name,
            });
        self.spans.send_modify(|all| all.extend(spans));
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// Starts the collector on a free port; the receiver sees every span as it arrives.
pub async fn start_collector() -> std::io::Result<(SocketAddr, watch::Receiver<Vec<ReceivedSpan>>)>
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (spans, received) = watch::channel(Vec::new());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector { spans }))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    Ok((addr, received))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
