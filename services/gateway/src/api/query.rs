//! Query strings as the Docker API uses them: repeated keys (`names=a&names=b`,
//! `changes=...`), and booleans spelt `1`, `true` or `True`. serde's flat structs cannot
//! say "this key may repeat", so endpoints that need it read pairs through this.

use crate::error::ApiError;

/// The decoded `key=value` pairs of one query string, in order.
#[derive(Debug, Clone, Default)]
pub struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    pub fn parse(raw: Option<&str>) -> Self {
        QueryPairs(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The last value of `key` (Docker's servers take the last one too).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order, empty values dropped.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean parameter; absent means `false`.
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        self.get(key).map_or(Ok(false), |v| parse_bool(key, v))
    }
}

/// Docker's spelling of booleans in query strings: Go's `strconv.ParseBool`, plus an
/// empty value meaning false.
pub fn parse_bool(key: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "invalid value for {key}: {value:?} is not a boolean (use 1, true, 0 or false)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_and_booleans() {
        let q = QueryPairs::parse(Some(
            "names=a&names=b%3A1&force=True&noprune=0&x=&changes=CMD+%5B%22sh%22%5D",
        ));
        assert_eq!(q.all("names"), ["a", "b:1"]);
        assert_eq!(q.get("changes"), Some(r#"CMD ["sh"]"#));
        assert!(q.flag("force").unwrap());
        assert!(!q.flag("noprune").unwrap());
        assert!(!q.flag("missing").unwrap());
        assert!(q.all("x").is_empty());
        assert!(QueryPairs::parse(Some("force=yes")).flag("force").is_err());
    }
}
