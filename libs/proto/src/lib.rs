//! berth's gRPC contracts as Rust: the messages, clients and server traits generated from
//! `proto/berth/v1/*.proto` by `build.rs`.
//!
//! This crate must never hold logic. Conversions, validation and helpers belong in the
//! crates that use these types (for example `libs/oci` for digests); keeping this crate
//! pure generated code keeps every service's view of the wire identical.
//!
//! Each service trait (`image_store_server::ImageStore`, `runner_server::Runner`, ...)
//! has default methods that answer `UNIMPLEMENTED`, so a service overrides only the
//! RPCs it serves so far.

/// Version 1 of the contracts, package `berth.v1`.
// The lints are relaxed for generated code only: prost's oneof enums trip
// `clippy::large_enum_variant` (a header variant next to a bytes chunk), and proto
// comments are written as plain text, not as rustdoc.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    missing_debug_implementations,
    rustdoc::all
)]
pub mod v1 {
    tonic::include_proto!("berth.v1");
}
