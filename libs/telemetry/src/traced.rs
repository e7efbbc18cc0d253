//! One tower wrapper for every kind of traced request: it asks a [`MakeSpan`] for the
//! request's span, lets it link the span to the caller's context (or carry it on), and
//! runs the inner service inside the span. gRPC server, gRPC client and HTTP differ only
//! in that span.

use std::task::{Context, Poll};

use tower::{Layer, Service};
use tracing::Instrument;
use tracing::instrument::Instrumented;

/// Makes the span of one request and wires its context (adopt from, or inject into, the
/// request's headers).
pub trait MakeSpan: Clone {
    fn make_span<B>(&self, req: &mut http::Request<B>) -> tracing::Span;
}

/// A layer wrapping services in [`Traced`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceLayer<M>(pub M);

impl<S, M: MakeSpan> Layer<S> for TraceLayer<M> {
    type Service = Traced<S, M>;
    fn layer(&self, inner: S) -> Traced<S, M> {
        Traced {
            inner,
            make: self.0.clone(),
        }
    }
}

/// A service whose every call runs inside the span `M` makes for it.
#[derive(Debug, Clone)]
pub struct Traced<S, M> {
    inner: S,
    make: M,
}

impl<S, M, B> Service<http::Request<B>> for Traced<S, M>
where
    S: Service<http::Request<B>>,
    M: MakeSpan,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let span = self.make.make_span(&mut req);
        self.inner.call(req).instrument(span)
    }
}
