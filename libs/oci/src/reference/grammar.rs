//! The reference grammar of distribution/reference, regular expression for regular
//! expression, and its `Parse` (which does not normalise).
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain '/'] remote-name
//! domain           := host [':' port-number]
//! host             := domain-name | '[' IPv6address ']'
//! domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! path-component   := /[a-z0-9]+/ [separator /[a-z0-9]+/]*
//! separator        := /[_.]|__|[-]+/
//! tag              := /[\w][\w.-]{0,127}/
//! digest           := algorithm ":" /[0-9a-fA-F]{32,}/
//! ```
//!
//! Go's `\w` is ASCII-only, so it is spelled out here (Rust's is Unicode).

use std::sync::LazyLock;

use regex::Regex;

use super::MAX_PATH_LEN;
use crate::digest::Digest;
use crate::error::OciError;

const ALPHANUMERIC: &str = "[a-z0-9]+";
const SEPARATOR: &str = "(?:[._]|__|[-]+)";
const DOMAIN_COMPONENT: &str = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const OPTIONAL_PORT: &str = "(?::[0-9]+)?";
const TAG: &str = "[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
const DIGEST: &str = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}";
const IPV6: &str = r"\[(?:[a-fA-F0-9:]+)\]";

fn domain_and_port() -> String {
    let domain_name = format!(r"{DOMAIN_COMPONENT}(?:\.{DOMAIN_COMPONENT})*");
    format!("(?:{domain_name}|{IPV6}){OPTIONAL_PORT}")
}

fn remote_name() -> String {
    let path_component = format!("{ALPHANUMERIC}(?:{SEPARATOR}{ALPHANUMERIC})*");
    format!("{path_component}(?:/{path_component})*")
}

static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    let name = format!("(?:{}/)?{}", domain_and_port(), remote_name());
    Regex::new(&format!("^({name})(?::({TAG}))?(?:@({DIGEST}))?$")).expect("valid regex")
});

static ANCHORED_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        "^(?:({})/)?({})$",
        domain_and_port(),
        remote_name()
    ))
    .expect("valid regex")
});

static ANCHORED_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^{TAG}$")).expect("valid regex"));

static IDENTIFIER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[a-f0-9]{64}$").expect("valid regex"));

/// A 64-character lowercase hex string: an image ID, never a name.
pub(super) fn is_identifier(s: &str) -> bool {
    IDENTIFIER.is_match(s)
}

pub(super) fn is_tag(s: &str) -> bool {
    ANCHORED_TAG.is_match(s)
}

#[derive(Debug)]
pub(super) struct Parsed {
    pub domain: String,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// distribution/reference's `Parse` for a name that already has its domain. The error
/// is Docker's message.
pub(super) fn parse(s: &str) -> Result<Parsed, String> {
    if s.is_empty() {
        return Err("repository name must have at least one component".to_owned());
    }
    let Some(caps) = REFERENCE.captures(s) else {
        let lower = s.to_lowercase();
        if lower != s && REFERENCE.is_match(&lower) {
            return Err("repository name must be lowercase".to_owned());
        }
        return Err(format!(
            "invalid reference format: {s:?} is not [registry[:port]/]repository[:tag][@sha256:digest]"
        ));
    };
    let name = caps.get(1).map_or("", |m| m.as_str());
    let (domain, path) = match ANCHORED_NAME.captures(name) {
        Some(n) if n.get(1).is_some() => (n[1].to_owned(), n[2].to_owned()),
        _ => (String::new(), name.to_owned()),
    };
    if path.len() > MAX_PATH_LEN {
        return Err(format!(
            "repository name must not be more than {MAX_PATH_LEN} characters"
        ));
    }
    let digest = match caps.get(3) {
        Some(m) => Some(parse_digest(m.as_str())?),
        None => None,
    };
    Ok(Parsed {
        domain,
        path,
        tag: caps.get(2).map(|m| m.as_str().to_owned()),
        digest,
    })
}

/// go-digest's messages for digests that match the grammar but not the algorithm.
fn parse_digest(s: &str) -> Result<Digest, String> {
    Digest::parse(s).map_err(|e| match e {
        OciError::UnsupportedDigestAlgorithm { algorithm, .. } => {
            format!("unsupported digest algorithm {algorithm}: berth handles sha256 digests only")
        }
        OciError::InvalidDigest { reason, .. } if reason.contains("lowercase") => {
            "invalid checksum digest format".to_owned()
        }
        _ => "invalid checksum digest length".to_owned(),
    })
}
