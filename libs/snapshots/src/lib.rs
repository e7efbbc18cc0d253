//! What a container's root filesystem is made of, for every service that runs processes
//! from images (the runner, and the builder's `RUN` steps): image layers unpacked once per
//! host into snapshots ([`Snapshots`]), and a container's overlay of them with an upper
//! directory of its own ([`ContainerFs`]).

mod disk_usage;
mod rootfs;
mod store;

pub use disk_usage::tree_bytes;
pub use rootfs::ContainerFs;
pub use store::{
    BlobError, BlobSource, SnapshotError, SnapshotLease, Snapshots, UnpackCap, chain_ids,
};
