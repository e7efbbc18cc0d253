//! A span per HTTP request, for the gateway: the root of the trace of every Docker API
//! call, or a child of the caller's trace when the client sent a `traceparent` header.

use crate::propagation::{self, HeaderView};
use crate::traced::{MakeSpan, TraceLayer};

/// Opens an `http.request` span around each request.
pub type HttpTraceLayer = TraceLayer<HttpServerSpan>;

/// The span of one Docker API call, named `METHOD /path`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpServerSpan;

impl MakeSpan for HttpServerSpan {
    fn make_span<B>(&self, req: &mut http::Request<B>) -> tracing::Span {
        let span = tracing::info_span!(
            "http.request",
            otel.name = %format!("{} {}", req.method(), req.uri().path()),
            otel.kind = "server",
            http.request.method = %req.method(),
            url.path = %req.uri().path(),
        );
        propagation::adopt(&span, &HeaderView(req.headers()));
        span
    }
}
