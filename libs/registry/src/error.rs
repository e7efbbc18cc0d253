//! What goes wrong talking to a registry, worded as Docker words it where users know
//! Docker's messages (`manifest unknown`, `unauthorized: ...`, `x509: ...`).

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry answered with an error document of the distribution spec.
    #[error("{code_text}: {message}")]
    Api {
        status: u16,
        /// `MANIFEST_UNKNOWN` etc., as the spec names them.
        code: String,
        /// Docker's lower-case rendering of the code ("manifest unknown").
        code_text: String,
        message: String,
    },
    /// No credentials for a registry that wants Basic auth.
    #[error("no basic auth credentials")]
    NoCredentials,
    /// The registry refused the credentials or the token.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed this access.
    #[error("denied: requested access to the resource is denied")]
    Denied,
    /// The server's certificate is not trusted.
    #[error("x509: {0}")]
    Certificate(String),
    /// The connection failed.
    #[error("{registry}: {message}")]
    Connect { registry: String, message: String },
    /// What arrived is not what was asked for: a digest or size mismatch, a truncated
    /// body, a document over its limit.
    #[error("{0}")]
    Invalid(String),
    /// Anything else the registry answered that is not success.
    #[error("{registry} answered {status} to {what}")]
    Status {
        registry: String,
        status: u16,
        what: String,
    },
}

impl RegistryError {
    /// Whether the registry said the manifest or blob does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            RegistryError::Api { status, code, .. } => {
                *status == 404 || code.ends_with("_UNKNOWN") || code == "NAME_UNKNOWN"
            }
            RegistryError::Status { status, .. } => *status == 404,
            _ => false,
        }
    }
}

/// The distribution spec's error document.
#[derive(Debug, serde::Deserialize)]
struct Errors {
    #[serde(default)]
    errors: Vec<ApiError>,
}

#[derive(Debug, serde::Deserialize)]
struct ApiError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The error a non-success answer stands for.
pub(crate) fn from_answer(registry: &str, status: u16, what: &str, body: &[u8]) -> RegistryError {
    let first = serde_json::from_slice::<Errors>(body)
        .ok()
        .and_then(|e| e.errors.into_iter().next());
    match first {
        Some(e) if !e.code.is_empty() => {
            if e.code == "DENIED" {
                return RegistryError::Denied;
            }
            if e.code == "UNAUTHORIZED" {
                return RegistryError::Unauthorized(if e.message.is_empty() {
                    "authentication required".into()
                } else {
                    e.message
                });
            }
            RegistryError::Api {
                status,
                code_text: e.code.to_ascii_lowercase().replace('_', " "),
                code: e.code,
                message: e.message,
            }
        }
        _ => RegistryError::Status {
            registry: registry.to_owned(),
            status,
            what: what.to_owned(),
        },
    }
}
