//! The one place where the runner's typed errors become gRPC statuses.

use tonic::Status;

use crate::error::{Classified, ErrorKind};

/// The status of any domain error: its kind picks the code, its message is kept whole
/// (the gateway shows it to Docker's clients as it is).
pub fn status<E: Classified>(e: E) -> Status {
    let message = e.to_string();
    match e.kind() {
        ErrorKind::Invalid => Status::invalid_argument(message),
        ErrorKind::NotFound => Status::not_found(message),
        ErrorKind::Conflict => Status::already_exists(message),
        ErrorKind::State => Status::failed_precondition(message),
        ErrorKind::Denied => Status::permission_denied(message),
        ErrorKind::Unsupported => Status::unimplemented(message),
        ErrorKind::Unavailable => Status::unavailable(message),
        ErrorKind::Internal => Status::internal(message),
    }
}

macro_rules! into_status {
    ($($error:ty),*) => {$(
        impl From<$error> for Status {
            fn from(e: $error) -> Status {
                status(e)
            }
        }
    )*};
}
into_status!(
    crate::containers::ContainerError,
    crate::networks::NetworkError,
    crate::volumes::VolumeError,
    crate::error::Refusal,
    crate::containers::record::RecordError,
    crate::networks::StoreError
);

/// A runtime error answered directly by an RPC.
pub fn runtime_status(e: berth_runtime::Error) -> Status {
    status(crate::containers::ContainerError::Runtime(e))
}
