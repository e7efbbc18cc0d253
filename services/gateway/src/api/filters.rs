//! Docker's `filters` query parameter: a JSON object mapping a filter name to its values,
//! either as a list (`{"type":["image"]}`) or, from older clients, as a set
//! (`{"type":{"image":true}}`). Every list endpoint takes it, so it is parsed once here.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::ApiError;

/// Parsed filters: name -> accepted values. A value of a name matches if it equals any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

#[derive(Deserialize)]
#[serde(untagged)]
enum Values {
    List(Vec<String>),
    Set(BTreeMap<String, bool>),
}

impl Filters {
    /// Parses the raw parameter; `None` or empty means no filter. Names outside `allowed`
    /// are refused, as Docker does, so a typo never silently matches everything.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
            return Ok(Filters::default());
        };
        let map: BTreeMap<String, Values> = serde_json::from_str(raw)
            .map_err(|e| ApiError::bad_request(format!("invalid filters {raw:?}: {e}")))?;
        let mut filters = BTreeMap::new();
        for (name, values) in map {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad_request(format!("invalid filter '{name}'")));
            }
            let values = match values {
                Values::List(v) => v,
                Values::Set(s) => s
                    .into_iter()
                    .filter(|(_, on)| *on)
                    .map(|(v, _)| v)
                    .collect(),
            };
            filters.insert(name, values);
        }
        Ok(Filters(filters))
    }

    /// The values given for `name`; empty when the filter is not set.
    pub fn get(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// True when every `label` filter (`key` or `key=value`) holds for `labels`: Docker
    /// ANDs label filters, where it ORs the values of other filters.
    /// `label` looks a label's value up by key.
    pub fn accepts_labels<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.get("label")
            .iter()
            .all(|l| berth_filters::label_matches_by(l, &label))
    }

    /// True when `name` is not set, or when `matches` accepts one of its values.
    pub fn accepts(&self, name: &str, matches: impl Fn(&str) -> bool) -> bool {
        let values = self.get(name);
        values.is_empty() || values.iter().any(|v| matches(v))
    }
}

/// Docker's `until` filter of the prune endpoints, as Unix seconds: a timestamp, an
/// RFC 3339 date, or a Go duration before now (`10m`, `24h`, `1h30m`).
pub fn until_seconds(v: &str) -> Result<i64, ApiError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    berth_filters::timestamp_nanos(v, now)
        .map(|nanos| nanos.div_euclid(1_000_000_000))
        .map_err(|e| ApiError::bad_request(format!("invalid until value: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_shapes() {
        let a = Filters::parse(Some(r#"{"type":["image","container"]}"#), &["type"]).unwrap();
        let b = Filters::parse(
            Some(r#"{"type":{"image":true,"container":true,"x":false}}"#),
            &["type"],
        )
        .unwrap();
        assert_eq!(a.get("type"), ["image", "container"]);
        assert_eq!(b.get("type"), ["container", "image"]);
        assert!(a.accepts("type", |v| v == "image"));
        assert!(!a.accepts("type", |v| v == "volume"));
        assert!(
            a.accepts("label", |_| false),
            "unset filters accept everything"
        );
        let labels = Filters::parse(Some(r#"{"label":["a=1","b"]}"#), &["label"]).unwrap();
        let has = |pairs: &[(&str, &str)]| {
            labels.accepts_labels(|k| pairs.iter().find(|(x, _)| *x == k).map(|(_, v)| *v))
        };
        assert!(has(&[("a", "1"), ("b", "")]));
        assert!(!has(&[("a", "1")]), "label filters must all hold");
        assert!(!has(&[("a", "2"), ("b", "x")]));
    }

    #[test]
    fn refuses_unknown_names_and_bad_json() {
        let e = Filters::parse(Some(r#"{"tpye":["image"]}"#), &["type"]).unwrap_err();
        assert_eq!(e.message, "invalid filter 'tpye'");
        assert!(Filters::parse(Some("{"), &["type"]).is_err());
        assert_eq!(Filters::parse(None, &[]).unwrap(), Filters::default());
        assert_eq!(Filters::parse(Some(""), &[]).unwrap(), Filters::default());
    }
}
