//! Read-only views of images as the Docker API shows them: list, inspect, history.

use std::collections::HashMap;

use berth_oci::Reference;
use serde_json::Value;

use crate::error::StoreError;
use crate::meta::{ImageRecord, TagRecord};
use crate::names;
use crate::store::Store;

/// One row of `docker images`.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: String,
    pub record: ImageRecord,
    /// Familiar names, sorted.
    pub repo_tags: Vec<String>,
}

/// `docker images` filters, already split by name.
#[derive(Debug, Default)]
pub struct ListFilters {
    pub dangling: Option<bool>,
    pub references: Vec<String>,
    pub labels: Vec<String>,
    pub before: Option<String>,
    pub since: Option<String>,
    pub until: Option<i64>,
}

/// One line of `docker history`, newest first.
#[derive(Debug, Clone)]
pub struct HistoryLine {
    pub id: String,
    pub created: i64,
    pub created_by: String,
    pub tags: Vec<String>,
    pub size: u64,
    pub comment: String,
}

/// Docker's reference filter: a glob over the familiar name, with or without the tag
/// (`busybox`, `busy*`, `busybox:1.*`, `*/app`).
fn reference_matches(pattern: &str, familiar: &str) -> bool {
    let (repo, _) = familiar
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))
        .unwrap_or((familiar, ""));
    glob(pattern, familiar) || glob(pattern, repo)
}

/// `*` matches any run of characters except `/`, `?` one character, as Go's path.Match.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && t[0] != b'/' && go(p, &t[1..])),
            (Some(b'?'), Some(c)) if *c != b'/' => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

impl Store {
    /// Images with their names, newest first, filtered as `docker images` does.
    pub fn list(&self, filters: &ListFilters) -> Result<Vec<Summary>, StoreError> {
        let tags = self.meta.tags()?;
        let mut by_image: HashMap<&str, Vec<String>> = HashMap::new();
        for (full, TagRecord { image_id, .. }) in &tags {
            let familiar = Reference::parse(full)
                .map(|r| r.familiar())
                .unwrap_or_else(|_| full.clone());
            by_image
                .entry(image_id.as_str())
                .or_default()
                .push(familiar);
        }
        let created_of = |text: &str| -> Result<i64, StoreError> {
            Ok(names::lookup(&self.meta, text)?.1.created)
        };
        let before = filters.before.as_deref().map(created_of).transpose()?;
        let since = filters.since.as_deref().map(created_of).transpose()?;
        let mut out = Vec::new();
        for (id, record) in self.meta.images()? {
            let mut repo_tags = by_image.remove(id.as_str()).unwrap_or_default();
            repo_tags.sort();
            if filters.dangling.is_some_and(|d| d != repo_tags.is_empty()) {
                continue;
            }
            if !filters.references.is_empty() {
                repo_tags.retain(|t| filters.references.iter().any(|p| reference_matches(p, t)));
                if repo_tags.is_empty() {
                    continue;
                }
            }
            let labelled = filters
                .labels
                .iter()
                .all(|l| berth_filters::label_matches(&record.labels, l));
            if !labelled
                || before.is_some_and(|b| record.created >= b)
                || since.is_some_and(|s| record.created <= s)
                || filters.until.is_some_and(|u| record.created > u)
            {
                continue;
            }
            out.push(Summary {
                id,
                record,
                repo_tags,
            });
        }
        out.sort_by(|a, b| {
            b.record
                .created
                .cmp(&a.record.created)
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// The image `text` names, its names, and its raw config.
    pub fn inspect(&self, text: &str) -> Result<(Summary, Vec<u8>, i64), StoreError> {
        let (id, record, _) = names::lookup(&self.meta, text)?;
        let (config, _) = self.json_blob(&record.config.digest)?;
        let tags = self.meta.tags()?;
        let last_tag = tags
            .iter()
            .filter(|(_, t)| t.image_id == id)
            .map(|(_, t)| t.tagged_at)
            .max()
            .unwrap_or(0);
        let repo_tags = names::tags_of(&self.meta, &id)?
            .into_iter()
            .map(|(_, f)| f)
            .collect();
        Ok((
            Summary {
                id,
                record,
                repo_tags,
            },
            config,
            last_tag,
        ))
    }

    /// The config's history, newest first, each non-empty step with its layer's size.
    pub fn history(&self, text: &str) -> Result<Vec<HistoryLine>, StoreError> {
        let (summary, config, _) = self.inspect(text)?;
        let config: Value = serde_json::from_slice(&config)
            .map_err(|e| StoreError::InvalidArgument(format!("unreadable config: {e}")))?;
        let mut layers = summary.record.layers.iter();
        let mut lines: Vec<HistoryLine> = config["history"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|h| {
                let empty = h["empty_layer"].as_bool().unwrap_or(false);
                HistoryLine {
                    id: "<missing>".to_owned(),
                    created: h["created"]
                        .as_str()
                        .and_then(|s| {
                            time::OffsetDateTime::parse(
                                s,
                                &time::format_description::well_known::Rfc3339,
                            )
                            .ok()
                        })
                        .map(|t| t.unix_timestamp())
                        .unwrap_or_default(),
                    created_by: h["created_by"].as_str().unwrap_or_default().to_owned(),
                    tags: Vec::new(),
                    size: if empty {
                        0
                    } else {
                        layers.next().map(|l| l.size).unwrap_or(0)
                    },
                    comment: h["comment"].as_str().unwrap_or_default().to_owned(),
                }
            })
            .collect();
        lines.reverse();
        if let Some(top) = lines.first_mut() {
            top.id = summary.id.clone();
            top.tags = summary.repo_tags.clone();
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_filter_globs_like_docker() {
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busy*", "busybox:latest"));
        assert!(reference_matches("busybox:lat*", "busybox:latest"));
        assert!(!reference_matches("busybox:1*", "busybox:latest"));
        assert!(!reference_matches("*", "team/app:1"), "* does not cross /");
        assert!(reference_matches("*/app", "team/app:1"));
        assert!(reference_matches("localhost:5000/a", "localhost:5000/a:1"));
    }
}
