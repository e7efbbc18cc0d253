//! What goes wrong in the image store, and how each failure reaches a caller over gRPC.

use std::path::PathBuf;

use berth_oci::Digest;

/// An image store failure. Messages are written for the person at the docker CLI.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("blob {0} not found in the image store")]
    BlobNotFound(Digest),
    #[error("No such image: {0}")]
    ImageNotFound(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error(
        "size mismatch: expected {expected} bytes, received {actual}; the upload was discarded"
    )]
    SizeMismatch { expected: u64, actual: u64 },
    #[error(
        "digest mismatch: expected {expected}, the data hashes to {actual}; the upload was discarded"
    )]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("image store database: {0}")]
    Db(#[from] redb::Error),
    #[error("{0}")]
    Oci(#[from] berth_oci::OciError),
    #[error("corrupt metadata for {key}: {source}")]
    Corrupt {
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

impl StoreError {
    pub fn io(path: PathBuf, source: std::io::Error) -> Self {
        StoreError::Io { path, source }
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<StoreError> for tonic::Status {
    fn from(e: StoreError) -> Self {
        use tonic::Code;
        let code = match &e {
            StoreError::BlobNotFound(_) | StoreError::ImageNotFound(_) => Code::NotFound,
            StoreError::InvalidArgument(_)
            | StoreError::SizeMismatch { .. }
            | StoreError::DigestMismatch { .. }
            | StoreError::Oci(_) => Code::InvalidArgument,
            StoreError::Conflict(_) => Code::FailedPrecondition,
            StoreError::Io { .. } | StoreError::Db(_) | StoreError::Corrupt { .. } => {
                tracing::error!(error = %e, "image store failure");
                Code::Internal
            }
        };
        tonic::Status::new(code, bounded(e.to_string()))
    }
}

/// The longest message a status carries: messages echo what the user sent, and a
/// status travels in an HTTP/2 header, where a 100 KB name would break the reply.
const MAX_MESSAGE: usize = 1024;

fn bounded(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("...");
    }
    message
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_messages_are_cut_at_a_character() {
        let long = super::bounded("é".repeat(4000));
        assert!(long.len() <= super::MAX_MESSAGE + 3 && long.ends_with("..."));
        assert_eq!(super::bounded("short".into()), "short");
    }
}
