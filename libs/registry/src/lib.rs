//! The OCI distribution protocol, client side: what berth's registry proxy speaks to
//! registries (pull, push, tags), with Docker's TLS and authentication rules.
//!
//! Written on hyper rather than on the `oci-client` crate, which speaks the same
//! protocol: oci-client 0.18 brings reqwest 0.13 with aws-lc-rs (berth's TLS is ring
//! throughout) and a second major version of sha2, and fixes its CAs when the client is
//! made, where dockerd reads `certs.d` again for every connection. What berth needs of the
//! protocol is a few endpoints; it is here, tested against Debian's docker-registry.

mod challenge;
mod client;
mod error;
mod transport;

pub use challenge::{Challenge, parse as parse_challenges};
pub use client::{Credentials, Fetched, MANIFEST_LIMIT, Registry, api_host};
pub use error::RegistryError;
pub use transport::TransportConfig;
