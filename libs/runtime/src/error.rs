//! The one error type of berth-runtime. Every message says what went wrong and what the
//! caller (or the user behind it) can do about it. Never put a secret in a message: they
//! travel to Docker clients.

use std::io;
use std::path::PathBuf;

/// Everything berth-runtime can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The container configuration asks for something invalid (a Docker create error).
    #[error("invalid container configuration: {0}")]
    InvalidConfig(String),

    /// `--user` names a user or group the image does not have.
    #[error(
        "unable to find {what} {name}: no matching entries in the image's {file}; use a numeric id or add the entry to the image"
    )]
    UnknownUser {
        /// "user" or "group"
        what: &'static str,
        /// the name that was looked up
        name: String,
        /// "/etc/passwd" or "/etc/group"
        file: &'static str,
    },

    /// No container with this id is known to this runtime root.
    #[error("no such container: {0}; check the id (it may have been deleted)")]
    NotFound(String),

    /// A container with this id already exists.
    #[error("container {0} already exists: delete it first or choose another id")]
    AlreadyExists(String),

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

    /// The `berth-monitor` (or `berth-spawn`) executable could not be found.
    #[error(
        "cannot find the berth-monitor and berth-spawn executables (looked at {0:?}): build them with `cargo build --release -p berth-runner --bins` and keep both beside berthd (or berth-runner), or set BERTH_MONITOR to the monitor's path with berth-spawn beside it"
    )]
    MonitorNotFound(Vec<PathBuf>),

    /// The per-container monitor reported a failure or went away.
    #[error("container {id}: {message}")]
    Monitor {
        /// container id
        id: String,
        /// what the monitor said (or why it could not be reached)
        message: String,
    },

    /// libcontainer (youki) refused or failed.
    #[error("{context}: {message}")]
    Container {
        /// what berth was doing
        context: String,
        /// libcontainer's error, flattened to text
        message: String,
    },

    /// A cgroup could not be read or changed.
    #[error("cgroup {path}: {message}")]
    Cgroup {
        /// the cgroup directory or file
        path: PathBuf,
        /// what failed and what to check
        message: String,
    },

    /// The OCI spec could not be built (a berth bug when it happens: please report it).
    #[error("building the OCI runtime spec failed (a berth bug, please report it): {0}")]
    Spec(#[from] oci_spec::OciSpecError),

    /// A file, socket or system call failed, or a document could not be read: the
    /// errors berth-runtime shares with berth-monitor, whose state files it reads.
    #[error(transparent)]
    Io(#[from] berth_monitor::Error),

    /// A path inside the container's root could not be resolved or read there.
    #[error(transparent)]
    RootPath(#[from] berth_rootpath::RootPathError),
}

/// berth-runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failed file or socket operation, with a context line.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        berth_monitor::Error::io(context, source).into()
    }

    /// A failed system call, with a context line.
    pub fn sys(context: impl Into<String>, source: nix::Error) -> Self {
        berth_monitor::Error::sys(context, source).into()
    }

    /// A document that could not be (de)serialised, with a context line.
    pub fn json(context: impl Into<String>, source: serde_json::Error) -> Self {
        berth_monitor::Error::json(context, source).into()
    }

    /// An [`Error::Container`] from any libcontainer error.
    pub fn container(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Container {
            context: context.into(),
            message: err.to_string(),
        }
    }
}

/// Adds a context line to `io::Result`s.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::io(context(), source))
    }
}
