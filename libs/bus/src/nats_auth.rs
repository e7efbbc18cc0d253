//! Who a process is to NATS, and how it knows the server is the right one: credentials
//! (a `.creds` file, user and password, or a token) and TLS (a CA, a client certificate
//! for mutual TLS).
//!
//! Without these, anything that reaches the NATS port (a container on the same network)
//! can publish heartbeats and steer placement. Secrets must never reach a log: the types
//! holding them print as `<redacted>`.

use std::path::PathBuf;

/// A password or token: kept out of `Debug`, so a logged config never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s))
    }
}

/// How this process proves who it is to the NATS server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NatsCredentials {
    /// No credentials: right only for a server without authorization (tests, one host).
    #[default]
    None,
    /// A `.creds` file as `nsc` issues it: a user JWT and its nkey seed.
    CredsFile(PathBuf),
    /// `authorization { user, password }` or one of `users`.
    UserPassword { user: String, password: Secret },
    /// `authorization { token }`.
    Token(Secret),
}

/// TLS to the NATS server. `tls://` URLs or a server that requires TLS turn it on; a CA
/// or a client certificate here turns it on for `nats://` URLs too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatsTls {
    /// CA certificate (PEM) the server's certificate must chain to, instead of the
    /// system's roots.
    pub ca: Option<PathBuf>,
    /// Client certificate and key (PEM), for a server that verifies clients.
    pub client: Option<(PathBuf, PathBuf)>,
}

impl NatsTls {
    fn requested(&self) -> bool {
        self.ca.is_some() || self.client.is_some()
    }
}

/// Everything but the URL that a connection to NATS needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatsOptions {
    pub credentials: NatsCredentials,
    pub tls: NatsTls,
}

impl NatsOptions {
    /// The client options for one connection attempt (a `.creds` file is read here).
    pub(crate) async fn client_options(&self) -> std::io::Result<async_nats::ConnectOptions> {
        let options = match &self.credentials {
            NatsCredentials::None => async_nats::ConnectOptions::new(),
            NatsCredentials::CredsFile(path) => {
                async_nats::ConnectOptions::with_credentials_file(path)
                    .await
                    .map_err(|e| {
                        std::io::Error::new(
                            e.kind(),
                            format!("reading --nats-creds {}: {e}", path.display()),
                        )
                    })?
            }
            NatsCredentials::UserPassword { user, password } => {
                async_nats::ConnectOptions::with_user_and_password(
                    user.clone(),
                    password.expose().to_owned(),
                )
            }
            NatsCredentials::Token(token) => {
                async_nats::ConnectOptions::with_token(token.expose().to_owned())
            }
        };
        let mut options = options;
        if let Some(ca) = &self.tls.ca {
            options = options.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.tls.client {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if self.tls.requested() {
            options = options.require_tls(true);
        }
        Ok(options)
    }

    /// What to tell the user when the server refused this process's credentials.
    pub(crate) fn auth_hint(&self) -> &'static str {
        match self.credentials {
            NatsCredentials::None => {
                "the server requires credentials: give them with --nats-creds FILE, \
                 --nats-user NAME with --nats-password-file FILE (or BERTH_NATS_PASSWORD), \
                 or --nats-token-file FILE (or BERTH_NATS_TOKEN)"
            }
            _ => {
                "check the credentials against the server's authorization block \
                 (--nats-creds, --nats-user/--nats-password-file, --nats-token-file)"
            }
        }
    }

    /// What to tell the user when TLS to the server failed.
    pub(crate) fn tls_hint(&self) -> &'static str {
        if self.tls.ca.is_none() {
            "give the CA that signed the server's certificate with --nats-tlscacert, and a \
             client certificate with --nats-tlscert/--nats-tlskey if the server verifies clients"
        } else if self.tls.client.is_none() {
            "if the server verifies clients, give a client certificate of its CA with \
             --nats-tlscert and --nats-tlskey"
        } else {
            "check that --nats-tlscacert signed the server's certificate and the server's CA \
             signed --nats-tlscert"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug() {
        let options = NatsOptions {
            credentials: NatsCredentials::UserPassword {
                user: "berth".into(),
                password: Secret::new("hunter2-password"),
            },
            tls: NatsTls::default(),
        };
        let printed = format!("{options:?} {:?}", Secret::new("tok-123"));
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("tok-123"), "{printed}");
        assert!(printed.contains("berth"), "{printed}");
    }
}
