//! How the runner's domain errors are classed for whoever answers the caller. Domain
//! modules return their own typed errors and know nothing of gRPC; each error says which
//! of these kinds it is (moby's errdefs classes), and `rpc` turns the kind into a status
//! code once, for all of them.

/// What kind of failure an error is, as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is wrong (Docker's 400).
    Invalid,
    /// What it names does not exist (404).
    NotFound,
    /// A name or address is taken (409).
    Conflict,
    /// The subject is not in a state that allows it (409, "container is running").
    State,
    /// Refused by policy (403: predefined networks, isolation).
    Denied,
    /// Valid, but berth cannot do it yet (501).
    Unsupported,
    /// A service it needs did not answer (503).
    Unavailable,
    /// berth failed (500).
    Internal,
}

/// An error that knows its [`ErrorKind`].
pub trait Classified: std::error::Error {
    fn kind(&self) -> ErrorKind;
}

/// A request berth turns down, with the message Docker's users see: the kind says why
/// (bad input, missing, in use...), the message says what to do.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub kind: ErrorKind,
    pub message: String,
}

impl Classified for Refusal {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

/// Constructors of an error's `Refused(Refusal)` variant, one per kind.
macro_rules! refusals {
    ($error:ident) => {
        #[allow(dead_code)]
        impl $error {
            fn refused(kind: $crate::error::ErrorKind, message: impl Into<String>) -> Self {
                $error::Refused($crate::error::Refusal {
                    kind,
                    message: message.into(),
                })
            }
            pub fn invalid(message: impl Into<String>) -> Self {
                Self::refused($crate::error::ErrorKind::Invalid, message)
            }
            pub fn not_found(message: impl Into<String>) -> Self {
                Self::refused($crate::error::ErrorKind::NotFound, message)
            }
            pub fn conflict(message: impl Into<String>) -> Self {
                Self::refused($crate::error::ErrorKind::Conflict, message)
            }
            pub fn state(message: impl Into<String>) -> Self {
                Self::refused($crate::error::ErrorKind::State, message)
            }
            pub fn denied(message: impl Into<String>) -> Self {
                Self::refused($crate::error::ErrorKind::Denied, message)
            }
            pub fn unsupported(message: impl Into<String>) -> Self {
                Self::refused($crate::error::ErrorKind::Unsupported, message)
            }
            pub fn internal(message: impl Into<String>) -> Self {
                Self::refused($crate::error::ErrorKind::Internal, message)
            }
        }
    };
}
pub(crate) use refusals;

/// The kind of a runtime error, shared by every module that drives the runtime.
pub fn runtime_kind(e: &berth_runtime::Error) -> ErrorKind {
    use berth_runtime::Error as E;
    match e {
        E::NotFound(_) => ErrorKind::NotFound,
        E::InvalidState { .. } => ErrorKind::State,
        E::InvalidConfig(_) | E::AlreadyExists(_) => ErrorKind::Invalid,
        _ => ErrorKind::Internal,
    }
}
