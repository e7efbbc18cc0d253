//! What can go wrong with a network or a container's place on one.

use crate::error::{Classified, ErrorKind, Refusal, refusals, runtime_kind};

use super::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// Turned down, with Docker's message (see `error::Refusal`).
    #[error(transparent)]
    Refused(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Runtime(#[from] berth_runtime::Error),
}

refusals!(NetworkError);

impl Classified for NetworkError {
    fn kind(&self) -> ErrorKind {
        match self {
            NetworkError::Refused(r) => r.kind,
            NetworkError::Store(e) => e.kind(),
            NetworkError::Runtime(e) => runtime_kind(e),
        }
    }
}

impl Classified for StoreError {
    fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Ambiguous { .. } => ErrorKind::Invalid,
            _ => ErrorKind::Internal,
        }
    }
}
