//! What can go wrong with a container, for the RPCs to report.

use crate::error::{Classified, ErrorKind, Refusal, refusals, runtime_kind};
use crate::networks::NetworkError;
use crate::volumes::VolumeError;

use super::images::ImageError;
use super::record::RecordError;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// Turned down, with Docker's message (see `error::Refusal`).
    #[error(transparent)]
    Refused(Refusal),
    #[error(transparent)]
    Runtime(#[from] berth_runtime::Error),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Volume(#[from] VolumeError),
    #[error(transparent)]
    Image(#[from] ImageError),
}

refusals!(ContainerError);

impl ContainerError {
    /// Docker's message for a container that is not there.
    pub fn no_such(text: &str) -> Self {
        ContainerError::not_found(format!("No such container: {text}"))
    }
}

impl Classified for ContainerError {
    fn kind(&self) -> ErrorKind {
        use ContainerError as E;
        match self {
            E::Refused(r) => r.kind,
            E::Runtime(e) => runtime_kind(e),
            E::Record(e) => e.kind(),
            E::Network(e) => e.kind(),
            E::Volume(e) => e.kind(),
            E::Image(e) => e.kind(),
        }
    }
}
