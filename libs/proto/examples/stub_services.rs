//! Every service trait has default methods answering `UNIMPLEMENTED`, so an empty `impl`
//! is already a server. A service crate starts like this and overrides RPCs one by one.

use berth_proto::v1::{
    builder_server::{Builder, BuilderServer},
    image_store_server::{ImageStore, ImageStoreServer},
    registry_proxy_server::{RegistryProxy, RegistryProxyServer},
    runner_server::{Runner, RunnerServer},
};

#[derive(Debug)]
struct Stub;

impl ImageStore for Stub {}
impl RegistryProxy for Stub {}
impl Builder for Stub {}
impl Runner for Stub {}

fn main() {
    // Building the servers is enough to show the traits are complete; serving them
    // belongs to the service crates.
    let _image_store = ImageStoreServer::new(Stub);
    let _registry_proxy = RegistryProxyServer::new(Stub);
    let _builder = BuilderServer::new(Stub);
    let _runner = RunnerServer::new(Stub);
    println!("all four berth.v1 services build from default stubs");
}
