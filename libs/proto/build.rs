//! Generates the tonic/prost code for berth's gRPC contracts.
//!
//! `protox` parses the `.proto` files in pure Rust, so building berth never needs
//! `protoc`; `tonic-prost-build` turns the resulting descriptors into Rust.

use std::path::PathBuf;

/// Every contract, listed by hand: adding a file is a reviewed change, not a glob match.
const PROTOS: &[&str] = &[
    "berth/v1/common.proto",
    "berth/v1/image_store.proto",
    "berth/v1/registry_proxy.proto",
    "berth/v1/builder.proto",
    "berth/v1/runner.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");

    for proto in PROTOS {
        println!(
            "cargo:rerun-if-changed={}",
            proto_root.join(proto).display()
        );
    }
    println!("cargo:rerun-if-changed=build.rs");

    // Include paths are relative to the proto root, so imports read
    // `import "berth/v1/common.proto"` and google/protobuf/*.proto come from protox's
    // built-in copies. Source info is kept so proto comments become rustdoc.
    let descriptors = protox::compile(PROTOS, [&proto_root])?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Each service trait gets default methods answering UNIMPLEMENTED, so a service
        // can be filled in one RPC at a time.
        .generate_default_stubs(true)
        // We print rerun-if-changed ourselves, for exactly the files listed above.
        .emit_rerun_if_changed(false)
        .compile_fds(descriptors)?;

    Ok(())
}
