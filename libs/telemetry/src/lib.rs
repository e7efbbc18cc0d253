//! Logs and traces for every berth process, and the trace context that ties one request's
//! spans together across processes.
//!
//! A Docker request enters the gateway and may touch four more services over gRPC and the
//! bus. Users follow it as one trace, so every hop carries the W3C `traceparent`: gRPC calls
//! in their metadata ([`grpc`]), bus messages in their headers ([`propagation`]).
//!
//! This crate never decides *what* to trace; services open their own spans. It only sets up
//! the pipeline ([`init`]) and moves context across process boundaries.

mod error;
pub mod grpc;
pub mod http;
mod init;
pub mod propagation;
mod traced;

pub use error::TelemetryError;
pub use init::{TelemetryConfig, TelemetryGuard, init};
pub use traced::{MakeSpan, TraceLayer, Traced};
