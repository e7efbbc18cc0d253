//! The monitor's error type. Messages reach Docker clients (through the runner), so each
//! says what failed and what to do about it, and never carries a secret.

use std::io;

/// Everything the monitor and its state files can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request asks for something invalid.
    #[error("invalid request: {0}")]
    InvalidConfig(String),

    /// The container is not in a state that allows the operation.
    #[error("container {id} is {state}: {hint}")]
    InvalidState {
        /// container id
        id: String,
        /// the state it is in
        state: String,
        /// what to do instead
        hint: &'static str,
    },

    /// `berth-spawn` (libcontainer) refused or failed.
    #[error("{context}: {message}")]
    Spawn {
        /// what the monitor asked for
        context: String,
        /// what berth-spawn said
        message: String,
    },

    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// what was being done, with the path
        context: String,
        /// the OS error
        #[source]
        source: io::Error,
    },

    /// A system call failed.
    #[error("{context}: {source}")]
    Sys {
        /// what was being done
        context: String,
        /// the errno
        #[source]
        source: nix::Error,
    },

    /// A state or protocol document could not be (de)serialised.
    #[error("{context}: {source}")]
    Json {
        /// which document
        context: String,
        /// serde's error
        #[source]
        source: serde_json::Error,
    },
}

/// berth-monitor's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] with a context line.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// An [`Error::Sys`] with a context line.
    pub fn sys(context: impl Into<String>, source: nix::Error) -> Self {
        Error::Sys {
            context: context.into(),
            source,
        }
    }

    /// An [`Error::Json`] with a context line.
    pub fn json(context: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Json {
            context: context.into(),
            source,
        }
    }
}

/// Adds a context line to `io::Result`s.
pub trait IoContext<T> {
    /// Maps the error to [`Error::Io`] with `context()`.
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: context(),
            source,
        })
    }
}
