//! Docker's progress lines, as the Pull and Push RPCs stream them.

use berth_oci::Digest;
use berth_proto::v1 as proto;

pub type Progress = proto::Progress;

/// The 12 hex characters Docker shows for a layer.
pub fn short_id(digest: &Digest) -> String {
    digest
        .to_string()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .chars()
        .take(12)
        .collect()
}

/// Constructors of the lines berth sends.
pub trait Lines {
    fn line(id: &str, status: &str) -> Self;
    fn status(status: &str) -> Self;
    fn downloading(id: &str, current: u64, total: u64) -> Self;
    fn failed(message: &str, code: i32) -> Self;
}

impl Lines for Progress {
    fn line(id: &str, status: &str) -> Self {
        Progress {
            id: id.to_owned(),
            status: status.to_owned(),
            ..Default::default()
        }
    }
    fn status(status: &str) -> Self {
        Self::line("", status)
    }
    fn downloading(id: &str, current: u64, total: u64) -> Self {
        Progress {
            id: id.to_owned(),
            status: "Downloading".to_owned(),
            detail: Some(proto::ProgressDetail { current, total }),
            ..Default::default()
        }
    }
    fn failed(message: &str, code: i32) -> Self {
        Progress {
            error: Some(proto::ProgressError {
                message: message.to_owned(),
                code,
            }),
            ..Default::default()
        }
    }
}

/// Keeps `NAME@DIGEST` as a RepoDigest of the image `source` names: where the registry
/// serves it, as Docker records after a pull or a push.
pub async fn record_repo_digest(
    store: &berth_proto::v1::image_store_client::ImageStoreClient<berth_rpc::TracedChannel>,
    source: &str,
    reference: &berth_oci::Reference,
    digest: &Digest,
) -> Result<(), tonic::Status> {
    store
        .clone()
        .tag(proto::TagRequest {
            source: source.to_owned(),
            target: Some(proto::ImageReference {
                original: format!("{}@{digest}", reference.name()),
                ..Default::default()
            }),
            repo_digest: true,
        })
        .await
        .map(drop)
}
