//! Lease and build cache RPCs: what keeps blobs alive besides images.

use berth_proto::v1::*;
use tonic::{Response, Status};

use super::{ImageStoreService, timestamp};
use crate::meta::{Changes, LeaseRecord};
use crate::store::now_nanos;

/// A lease nobody ends lasts this long, so a crashed writer cannot pin blobs forever.
const DEFAULT_LEASE_SECONDS: u64 = 3600;

impl ImageStoreService {
    pub(super) async fn create_lease_impl(
        &self,
        r: CreateLeaseRequest,
    ) -> Result<Response<CreateLeaseResponse>, Status> {
        let ttl = if r.ttl_seconds == 0 {
            DEFAULT_LEASE_SECONDS
        } else {
            r.ttl_seconds
        };
        let expires_at = now_nanos() / 1_000_000_000 + ttl as i64;
        let id = format!("lease-{}", uuid::Uuid::new_v4().simple());
        let _w = self.store.write.lock().await;
        self.store.meta.write(Changes {
            put_leases: vec![(
                id.clone(),
                LeaseRecord {
                    expires_at,
                    protect: r.protect.into_iter().map(|d| d.value).collect(),
                    labels: r.labels.into_iter().collect(),
                },
            )],
            ..Default::default()
        })?;
        Ok(Response::new(CreateLeaseResponse {
            lease_id: id,
            expires_at: timestamp(expires_at * 1_000_000_000),
        }))
    }

    pub(super) async fn delete_lease_impl(
        &self,
        r: DeleteLeaseRequest,
    ) -> Result<Response<DeleteLeaseResponse>, Status> {
        let _w = self.store.write.lock().await;
        self.store.meta.write(Changes {
            delete_leases: vec![r.lease_id],
            ..Default::default()
        })?;
        Ok(Response::new(DeleteLeaseResponse {}))
    }
}
