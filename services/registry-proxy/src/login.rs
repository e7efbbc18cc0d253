//! `docker login`: the credentials are tried against the registry and forgotten; the
//! docker CLI keeps them and sends them with every pull and push.

use berth_registry::{Registry, RegistryError};
use tonic::Status;

/// The registry a login's server address names: `https://index.docker.io/v1/` (what the
/// CLI sends for Docker Hub) is `docker.io`; a scheme and a path are dropped.
pub fn domain(server_address: &str) -> String {
    let without_scheme = server_address
        .strip_prefix("https://")
        .or_else(|| server_address.strip_prefix("http://"))
        .unwrap_or(server_address);
    let host = without_scheme.split('/').next().unwrap_or_default();
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_owned(),
        h => h.to_owned(),
    }
}

/// Whether the registry takes the credentials, failing as dockerd words it.
pub async fn check(registry: &Registry) -> Result<(), Status> {
    match registry.ping().await {
        Ok(()) => Ok(()),
        Err(
            RegistryError::Unauthorized(_) | RegistryError::NoCredentials | RegistryError::Denied,
        ) => Err(Status::unauthenticated(format!(
            "login attempt to {} failed with status: 401 Unauthorized",
            registry.base_url().await
        ))),
        Err(e) => Err(Status::unavailable(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_as_the_cli_sends_them() {
        assert_eq!(domain("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(domain(""), "docker.io");
        assert_eq!(domain("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(domain("http://reg.example:5000/v2/"), "reg.example:5000");
    }
}
