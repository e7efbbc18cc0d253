/// What can go wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The NATS server could not be reached.
    #[error("cannot connect to NATS at {url}: {message}; is nats-server running there?")]
    Connect { url: String, message: String },
    /// The NATS server refused this process's credentials (or their absence).
    #[error("NATS at {url} refused to authenticate this service ({message}): {hint}")]
    Auth {
        url: String,
        message: String,
        hint: &'static str,
    },
    /// TLS to the NATS server failed: an unknown CA, or a client certificate missing or
    /// refused.
    #[error("TLS to NATS at {url} failed ({message}): {hint}")]
    Tls {
        url: String,
        message: String,
        hint: &'static str,
    },
    /// A NATS operation failed after connecting.
    #[error("NATS {operation} on {subject} failed: {message}")]
    Nats {
        operation: &'static str,
        subject: String,
        message: String,
    },
    /// A subject or pattern is not valid NATS syntax.
    #[error("invalid subject {0:?}: tokens are separated by '.', none empty, no spaces")]
    InvalidSubject(String),
    /// A message body is not what its subject promises.
    #[error("message on {subject} is not valid {what}: {source}")]
    Decode {
        subject: String,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A message could not be serialised.
    #[error("cannot encode message for {subject}: {source}")]
    Encode {
        subject: String,
        #[source]
        source: serde_json::Error,
    },
}

impl BusError {
    pub(crate) fn nats(
        operation: &'static str,
        subject: &str,
        err: impl std::fmt::Display,
    ) -> Self {
        BusError::Nats {
            operation,
            subject: subject.to_owned(),
            message: err.to_string(),
        }
    }
}
