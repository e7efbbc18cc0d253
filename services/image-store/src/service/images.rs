//! Image RPCs: names, lookups and the Docker views.

use std::collections::HashSet;

use berth_proto::v1::deleted_image_item::Item;
use berth_proto::v1::*;
use tonic::{Response, Status};

use super::{ImageStoreService, blocking, timestamp, to_proto_digest};
use crate::meta::Blob;
use crate::names;
use crate::removal::Removed;
use crate::views::ListFilters;

fn descriptor(b: &Blob) -> Option<Descriptor> {
    Some(Descriptor {
        media_type: b.media_type.clone(),
        digest: to_proto_digest(&b.digest),
        size: b.size,
        ..Default::default()
    })
}

fn removed(list: Vec<Removed>) -> Vec<DeletedImageItem> {
    list.into_iter()
        .map(|r| DeletedImageItem {
            item: Some(match r {
                Removed::Untagged(n) => Item::Untagged(n),
                Removed::Deleted(d) => Item::Deleted(Digest { value: d }),
            }),
        })
        .collect()
}

fn values(filters: &std::collections::HashMap<String, StringList>, key: &str) -> Vec<String> {
    filters
        .get(key)
        .map(|l| l.values.clone())
        .unwrap_or_default()
}

fn one_bool(
    filters: &std::collections::HashMap<String, StringList>,
    key: &str,
) -> Result<Option<bool>, Status> {
    match values(filters, key).last().map(String::as_str) {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(v) => Err(Status::invalid_argument(format!(
            "invalid filter '{key}={v}': use true or false"
        ))),
    }
}

/// Docker's `until` filter as Unix seconds (see [`berth_filters::timestamp_nanos`]).
fn until_seconds(v: &str) -> Result<i64, Status> {
    berth_filters::timestamp_nanos(v, crate::store::now_nanos())
        .map(|nanos| nanos.div_euclid(1_000_000_000))
        .map_err(|e| Status::invalid_argument(format!("invalid until value: {e}")))
}

impl ImageStoreService {
    pub(super) async fn tag_impl(&self, r: TagRequest) -> Result<Response<TagResponse>, Status> {
        let target = r
            .target
            .ok_or_else(|| Status::invalid_argument("target is required"))?;
        if r.repo_digest {
            self.store
                .add_repo_digest(&r.source, &target.original)
                .await?;
        } else {
            self.store.tag(&r.source, &target.original).await?;
        }
        Ok(Response::new(TagResponse {}))
    }

    pub(super) async fn untag_impl(
        &self,
        r: UntagRequest,
    ) -> Result<Response<UntagResponse>, Status> {
        let reference = r
            .reference
            .ok_or_else(|| Status::invalid_argument("reference is required"))?;
        let name = berth_oci::Reference::parse(&reference.original)
            .map_err(crate::error::StoreError::from)?;
        if name.digest().is_some() {
            return Err(Status::invalid_argument(
                "untag takes name:tag, not a digest",
            ));
        }
        let removed = self.store.delete_image(&name.to_string(), false).await?;
        let previous = removed.into_iter().find_map(|r| match r {
            Removed::Deleted(d) => Some(d),
            Removed::Untagged(_) => None,
        });
        Ok(Response::new(UntagResponse {
            previous: previous.map(|d| Descriptor {
                digest: to_proto_digest(d),
                ..Default::default()
            }),
        }))
    }

    pub(super) async fn resolve_impl(
        &self,
        r: ResolveRequest,
    ) -> Result<Response<ResolveResponse>, Status> {
        let store = self.store.clone();
        let (id, image, found) = blocking(move || names::lookup(&store.meta, &r.reference)).await?;
        let reference = match found {
            names::Found::Name(n) => Some(ImageReference {
                original: n.to_string(),
                domain: n.domain().to_owned(),
                repository: n.path().to_owned(),
                tag: n.tag().map(str::to_owned),
                digest: n.digest().map(to_proto_digest).unwrap_or_default(),
            }),
            names::Found::Id => None,
        };
        Ok(Response::new(ResolveResponse {
            reference,
            target: descriptor(&image.target),
            manifest: descriptor(&image.manifest),
            config: descriptor(&image.config),
            layers: image.layers.iter().filter_map(descriptor).collect(),
            image_id: to_proto_digest(id),
        }))
    }

    pub(super) async fn list_images_impl(
        &self,
        r: ListImagesRequest,
    ) -> Result<Response<ListImagesResponse>, Status> {
        let f = &r.filters;
        let filters = ListFilters {
            dangling: one_bool(f, "dangling")?,
            references: values(f, "reference"),
            labels: values(f, "label"),
            before: values(f, "before").pop(),
            since: values(f, "since").pop(),
            until: values(f, "until")
                .pop()
                .map(|v| until_seconds(&v))
                .transpose()?,
        };
        let store = self.store.clone();
        let list = blocking(move || store.list(&filters)).await?;
        let images = list
            .into_iter()
            .map(|s| ImageSummary {
                id: to_proto_digest(&s.id),
                parent_id: s
                    .record
                    .parent
                    .as_ref()
                    .map(|p| Digest { value: p.clone() }),
                repo_digests: familiar(&s.record.repo_digests),
                repo_tags: s.repo_tags,
                created: Some(prost_types::Timestamp {
                    seconds: s.record.created,
                    nanos: 0,
                }),
                size: s.record.size(),
                shared_size: -1,
                labels: s.record.labels.into_iter().collect(),
            })
            .collect();
        Ok(Response::new(ListImagesResponse { images }))
    }

    pub(super) async fn inspect_image_impl(
        &self,
        r: InspectImageRequest,
    ) -> Result<Response<InspectImageResponse>, Status> {
        let store = self.store.clone();
        let (summary, config, last_tag) = blocking(move || store.inspect(&r.reference)).await?;
        Ok(Response::new(InspectImageResponse {
            id: to_proto_digest(&summary.id),
            repo_digests: familiar(&summary.record.repo_digests),
            repo_tags: summary.repo_tags,
            parent_id: summary.record.parent.map(|p| Digest { value: p }),
            size: summary.record.layers.iter().map(|l| l.size).sum(),
            manifest: descriptor(&summary.record.manifest),
            config_json: config,
            last_tag_time: if last_tag > 0 {
                timestamp(last_tag)
            } else {
                None
            },
        }))
    }

    pub(super) async fn image_history_impl(
        &self,
        r: ImageHistoryRequest,
    ) -> Result<Response<ImageHistoryResponse>, Status> {
        let store = self.store.clone();
        let lines = blocking(move || store.history(&r.reference)).await?;
        Ok(Response::new(ImageHistoryResponse {
            entries: lines
                .into_iter()
                .map(|l| HistoryEntry {
                    id: l.id,
                    created: Some(prost_types::Timestamp {
                        seconds: l.created,
                        nanos: 0,
                    }),
                    created_by: l.created_by,
                    tags: l.tags,
                    size: l.size,
                    comment: l.comment,
                })
                .collect(),
        }))
    }

    pub(super) async fn delete_image_impl(
        &self,
        r: DeleteImageRequest,
    ) -> Result<Response<DeleteImageResponse>, Status> {
        let removed_list = self.store.delete_image(&r.reference, r.force).await?;
        Ok(Response::new(DeleteImageResponse {
            items: removed(removed_list),
        }))
    }

    pub(super) async fn prune_images_impl(
        &self,
        r: PruneImagesRequest,
    ) -> Result<Response<PruneImagesResponse>, Status> {
        let f = &r.filters;
        let dangling_only = one_bool(f, "dangling")?.unwrap_or(true);
        let until = values(f, "until")
            .pop()
            .map(|v| until_seconds(&v))
            .transpose()?;
        let keep: HashSet<String> = r.keep_image_ids.into_iter().map(|d| d.value).collect();
        let (list, bytes) = self
            .store
            .prune(
                dangling_only,
                until,
                &values(f, "label"),
                &values(f, "label!"),
                &keep,
            )
            .await?;
        Ok(Response::new(PruneImagesResponse {
            deleted: removed(list),
            space_reclaimed: bytes,
        }))
    }
}

/// Names as Docker shows them (`busybox@sha256:...`, `localhost:5000/a@sha256:...`).
fn familiar(full: &[String]) -> Vec<String> {
    let mut out: Vec<String> = full
        .iter()
        .map(|f| {
            berth_oci::Reference::parse_named(f)
                .map(|r| r.familiar())
                .unwrap_or_else(|_| f.clone())
        })
        .collect();
    out.sort();
    out
}
