//! Moving a span's context in and out of message headers (W3C `traceparent`/`tracestate`).

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Writes `span`'s trace context into `carrier`.
pub fn inject(span: &tracing::Span, carrier: &mut dyn Injector) {
    let cx = span.context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, carrier));
}

/// The trace context of `span` as header pairs, for transports with plain string headers.
pub fn headers_of(span: &tracing::Span) -> HashMap<String, String> {
    let mut headers = HashMap::new();
    inject(span, &mut headers);
    headers
}

/// Makes the context found in `carrier` the parent of `span`. A carrier without context
/// leaves `span` a root, which is right for work that did not come from a traced request.
pub fn adopt(span: &tracing::Span, carrier: &dyn Extractor) {
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(carrier));
    // Fails only once the span has started children; callers adopt before entering it.
    let _ = span.set_parent(cx);
}

/// `http::HeaderMap` as a propagation carrier (gRPC metadata travels as HTTP/2 headers).
#[derive(Debug)]
pub struct HeaderCarrier<'a, T>(pub &'a mut T);

impl Injector for HeaderCarrier<'_, http::HeaderMap> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// Read-only view of an `http::HeaderMap` for extraction.
#[derive(Debug)]
pub struct HeaderView<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderView<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}
