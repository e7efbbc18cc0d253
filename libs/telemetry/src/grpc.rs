//! Tower layers that carry trace context through gRPC: the client side opens a client span
//! and writes its context into the request metadata; the server side opens a server span
//! whose parent is whatever the caller sent.
//!
//! They work on plain `http` requests, so they fit tonic's `Server::layer` and any client
//! built on a `tonic::transport::Channel`.

use std::task::{Context, Poll};

use tower::{Layer, Service};
use tracing::Instrument;
use tracing::instrument::Instrumented;

use crate::propagation::{self, HeaderCarrier, HeaderView};

/// Server half: adopt the caller's trace context.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerTraceLayer;

impl<S> Layer<S> for ServerTraceLayer {
    type Service = ServerTrace<S>;
    fn layer(&self, inner: S) -> ServerTrace<S> {
        ServerTrace { inner }
    }
}

/// See [`ServerTraceLayer`].
#[derive(Debug, Clone)]
pub struct ServerTrace<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for ServerTrace<S>
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
            "grpc.server",
            otel.name = %req.uri().path(),
            otel.kind = "server",
            rpc.system = "grpc",
        );
        propagation::adopt(&span, &HeaderView(req.headers()));
        self.inner.call(req).instrument(span)
    }
}

/// Client half: one span per call, its context sent along.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientTraceLayer;

impl<S> Layer<S> for ClientTraceLayer {
    type Service = ClientTrace<S>;
    fn layer(&self, inner: S) -> ClientTrace<S> {
        ClientTrace { inner }
    }
}

/// See [`ClientTraceLayer`].
#[derive(Debug, Clone)]
pub struct ClientTrace<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for ClientTrace<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = %req.uri().path(),
            otel.kind = "client",
            rpc.system = "grpc",
        );
        propagation::inject(&span, &mut HeaderCarrier(req.headers_mut()));
        self.inner.call(req).instrument(span)
    }
}
