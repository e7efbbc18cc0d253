//! `label=KEY` and `label=KEY=VALUE` filters.

use std::collections::{BTreeMap, HashMap};

/// Something with labels to look up by key.
pub trait Labels {
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for HashMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// Whether `labels` satisfy one `label` filter: `KEY` needs the label, `KEY=VALUE` needs
/// it with exactly that value (Docker compares the whole value, no patterns).
pub fn label_matches(labels: &impl Labels, filter: &str) -> bool {
    label_matches_by(filter, |key| labels.label(key))
}

/// [`label_matches`] where `label` looks a value up by key.
pub fn label_matches_by<'a>(filter: &str, label: impl Fn(&str) -> Option<&'a str>) -> bool {
    match filter.split_once('=') {
        Some((key, value)) => label(key) == Some(value),
        None => label(filter).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_alone_needs_the_label_and_key_value_needs_the_value() {
        let labels: BTreeMap<String, String> = [("a".into(), "1".into()), ("b".into(), "".into())]
            .into_iter()
            .collect();
        assert!(label_matches(&labels, "a"));
        assert!(label_matches(&labels, "a=1"));
        assert!(!label_matches(&labels, "a=2"));
        assert!(label_matches(&labels, "b"));
        assert!(label_matches(&labels, "b="));
        assert!(!label_matches(&labels, "c"));
        // Only the first `=` splits: the value may hold more.
        let eq: HashMap<String, String> = [("k".into(), "x=y".into())].into_iter().collect();
        assert!(label_matches(&eq, "k=x=y"));
    }
}
