//! The one error type of in-root path operations.

use std::io;
use std::path::PathBuf;

/// What can go wrong while working on a path inside a root.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootPathError {
    /// The root directory itself could not be opened.
    #[error("cannot open {} as a root: {source}", root.display())]
    OpenRoot {
        /// The root directory.
        root: PathBuf,
        /// Why.
        source: pathrs::error::Error,
    },

    /// A path inside the root could not be resolved or worked on there.
    #[error("{action} {} inside {}: {}", path.display(), root.display(), causes(source))]
    Resolve {
        /// What was being done (`reading`, `creating`…).
        action: &'static str,
        /// The path, as seen from inside the root.
        path: PathBuf,
        /// The root directory.
        root: PathBuf,
        /// Why.
        source: pathrs::error::Error,
    },

    /// Reading or inspecting an opened file failed.
    #[error("{action} {} inside {}: {source}", path.display(), root.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path, as seen from inside the root.
        path: PathBuf,
        /// The root directory.
        root: PathBuf,
        /// Why.
        source: io::Error,
    },

    /// A file that must be a regular file is something else.
    #[error("{} inside {} is not a regular file", path.display(), root.display())]
    NotRegularFile {
        /// The path, as seen from inside the root.
        path: PathBuf,
        /// The root directory.
        root: PathBuf,
    },

    /// A file is bigger than the caller allows.
    #[error(
        "{} inside {} is larger than {max_bytes} bytes; berth refuses to read it: make it smaller",
        path.display(),
        root.display()
    )]
    TooLarge {
        /// The path, as seen from inside the root.
        path: PathBuf,
        /// The root directory.
        root: PathBuf,
        /// The limit.
        max_bytes: u64,
    },

    /// A chain of symlinks did not end.
    #[error("too many levels of symbolic links at {} inside {}", path.display(), root.display())]
    TooManyLinks {
        /// The path, as seen from inside the root.
        path: PathBuf,
        /// The root directory.
        root: PathBuf,
    },
}

/// Results of this crate.
pub type Result<T, E = RootPathError> = std::result::Result<T, E>;

impl RootPathError {
    /// Why it failed, without the host paths: for messages that reach a user, who
    /// knows the path inside the container but has no business with the host's.
    pub fn reason(&self) -> String {
        match self {
            RootPathError::OpenRoot { source, .. } | RootPathError::Resolve { source, .. } => {
                root_cause(source)
            }
            RootPathError::Io { source, .. } => source.to_string(),
            RootPathError::NotRegularFile { .. } => "not a regular file".into(),
            RootPathError::TooLarge { max_bytes, .. } => format!("larger than {max_bytes} bytes"),
            RootPathError::TooManyLinks { .. } => "too many levels of symbolic links".into(),
        }
    }
}

/// libpathrs says what it was doing at each level and the kernel's reason only at the
/// bottom: all of them, joined.
fn causes(e: &pathrs::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

fn root_cause(e: &pathrs::error::Error) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(cause) = last.source() {
        last = cause;
    }
    last.to_string()
}
