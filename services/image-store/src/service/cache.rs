//! Build cache RPCs: step keys -> results, shared by every builder of a farm.

use berth_proto::v1::*;
use tonic::{Response, Status};

use super::{ImageStoreService, blocking, timestamp, to_proto_digest};
use crate::meta::{CacheRecord, Changes};
use crate::store::now_nanos;

impl ImageStoreService {
    pub(super) async fn cache_get_impl(
        &self,
        r: CacheGetRequest,
    ) -> Result<Response<CacheGetResponse>, Status> {
        let store = self.store.clone();
        let key = r.key.clone();
        let entry = blocking(move || store.meta.cache_entry(&key)).await?;
        // A hit whose result blob is gone (pruned by hand) is a miss, not a broken build.
        let entry = entry.filter(|e| {
            e.result
                .parse()
                .is_ok_and(|d| self.store.blobs.contains(&d))
        });
        if let Some(e) = &entry {
            let mut used = e.clone();
            used.last_used_at = now_nanos();
            let _w = self.store.write.lock().await;
            self.store.meta.write(Changes {
                put_cache: vec![(r.key.clone(), used)],
                ..Default::default()
            })?;
        }
        Ok(Response::new(CacheGetResponse {
            entry: entry.map(|e| CacheEntry {
                key: r.key,
                result: to_proto_digest(&e.result),
                retains: e
                    .retains
                    .iter()
                    .map(|d| Digest { value: d.clone() })
                    .collect(),
                description: e.description,
                created_at: timestamp(e.created_at),
                last_used_at: timestamp(e.last_used_at),
                size: e.size,
            }),
        }))
    }

    pub(super) async fn cache_put_impl(
        &self,
        r: CachePutRequest,
    ) -> Result<Response<CachePutResponse>, Status> {
        let result = super::digest_of(&r.result, "result")?;
        let mut size = 0;
        for d in std::iter::once(result.clone())
            .chain(r.retains.iter().filter_map(|d| d.value.parse().ok()))
        {
            size += self
                .store
                .blobs
                .stat(&d)?
                .ok_or_else(|| {
                    Status::failed_precondition(format!(
                        "blob {d} is not stored; write it before caching it"
                    ))
                })?
                .size;
        }
        let now = now_nanos();
        let _w = self.store.write.lock().await;
        self.store.meta.write(Changes {
            put_cache: vec![(
                r.key,
                CacheRecord {
                    result: result.to_string(),
                    retains: r.retains.into_iter().map(|d| d.value).collect(),
                    description: r.description,
                    created_at: now,
                    last_used_at: now,
                    size,
                },
            )],
            ..Default::default()
        })?;
        Ok(Response::new(CachePutResponse {}))
    }
}
