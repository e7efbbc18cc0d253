//! Trace context through gRPC: the client side opens a client span and writes its context
//! into the request metadata; the server side opens a server span whose parent is
//! whatever the caller sent.
//!
//! They work on plain `http` requests, so they fit tonic's `Server::layer` and any client
//! built on a `tonic::transport::Channel`.

use crate::propagation::{self, HeaderCarrier, HeaderView};
use crate::traced::{MakeSpan, TraceLayer, Traced};

/// Server half: adopt the caller's trace context.
pub type ServerTraceLayer = TraceLayer<GrpcServerSpan>;
/// See [`ServerTraceLayer`].
pub type ServerTrace<S> = Traced<S, GrpcServerSpan>;
/// Client half: one span per call, its context sent along.
pub type ClientTraceLayer = TraceLayer<GrpcClientSpan>;
/// See [`ClientTraceLayer`].
pub type ClientTrace<S> = Traced<S, GrpcClientSpan>;

/// The span of a served call, named by its gRPC path.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcServerSpan;

impl MakeSpan for GrpcServerSpan {
    fn make_span<B>(&self, req: &mut http::Request<B>) -> tracing::Span {
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %req.uri().path(),
            otel.kind = "server",
            rpc.system = "grpc",
        );
        propagation::adopt(&span, &HeaderView(req.headers()));
        span
    }
}

/// The span of an outgoing call; its context goes out in the metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcClientSpan;

impl MakeSpan for GrpcClientSpan {
    fn make_span<B>(&self, req: &mut http::Request<B>) -> tracing::Span {
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = %req.uri().path(),
            otel.kind = "client",
            rpc.system = "grpc",
        );
        propagation::inject(&span, &mut HeaderCarrier(req.headers_mut()));
        span
    }
}
