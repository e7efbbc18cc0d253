//! A span per HTTP request, for the gateway: the root of the trace of every Docker API
//! call, or a child of the caller's trace when the client sent a `traceparent` header.

use std::task::{Context, Poll};

use tower::{Layer, Service};
use tracing::Instrument;
use tracing::instrument::Instrumented;

use crate::propagation::{self, HeaderView};

/// Opens an `http.request` span around each request.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpTraceLayer;

impl<S> Layer<S> for HttpTraceLayer {
    type Service = HttpTrace<S>;
    fn layer(&self, inner: S) -> HttpTrace<S> {
        HttpTrace { inner }
    }
}

/// See [`HttpTraceLayer`].
#[derive(Debug, Clone)]
pub struct HttpTrace<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for HttpTrace<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let span = tracing::info_span!(
            "http.request",
            otel.name = %format!("{} {}", req.method(), req.uri().path()),
            otel.kind = "server",
            http.request.method = %req.method(),
            url.path = %req.uri().path(),
        );
        propagation::adopt(&span, &HeaderView(req.headers()));
        self.inner.call(req).instrument(span)
    }
}
