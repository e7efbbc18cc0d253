//! Image references (`[registry/]repository[:tag][@digest]`) parsed and normalised
//! exactly as Docker does it (a port of `distribution/reference`'s
//! `ParseNormalizedNamed`, `ParseAnyReference` and `FamiliarString`): `busybox` means
//! `docker.io/library/busybox:latest`, and Docker's short form is what users see.
//!
//! This module must never look anything up (no registry, no store): it only parses,
//! validates and prints. Its error messages start with Docker's own words.

mod grammar;
mod lookup;

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::{OciError, Result};

pub use lookup::{ImageLookup, classify_image_ref};

/// Docker Hub's canonical domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The Docker Hub domain of old, folded into [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag a name without tag or digest gets.
pub const DEFAULT_TAG: &str = "latest";
/// The longest repository path distribution/reference accepts (the domain is not
/// counted, as in distribution/reference v0.6 that Docker vendors).
pub const MAX_PATH_LEN: usize = 255;

/// A fully normalised image reference: always has a domain; may have a tag, a digest
/// or both.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses what a user typed, as `docker pull`/`run`/`tag`/`save` do: normalises the
    /// name and adds the `latest` tag when neither a tag nor a digest is given.
    pub fn parse(input: &str) -> Result<Self> {
        let mut reference = Self::parse_named(input)?;
        if reference.tag.is_none() && reference.digest.is_none() {
            reference.tag = Some(DEFAULT_TAG.to_owned());
        }
        Ok(reference)
    }

    /// Parses and normalises a name, keeping tag and digest as written (no default
    /// tag): `docker images REPO`, `docker push REPO` (all tags).
    pub fn parse_named(input: &str) -> Result<Self> {
        if grammar::is_identifier(input) {
            return Err(invalid(
                input,
                format!(
                    "invalid repository name ({input}), cannot specify 64-byte hexadecimal strings"
                ),
            ));
        }
        let (domain, remainder) = split_docker_domain(input);
        let remote = remainder.split(':').next().unwrap_or_default();
        if remote.to_lowercase() != remote {
            return Err(invalid(
                input,
                format!("invalid reference format: repository name ({remote}) must be lowercase"),
            ));
        }
        let parsed = grammar::parse(&format!("{domain}/{remainder}"))
            .map_err(|message| invalid(input, message))?;
        Ok(Self {
            domain: parsed.domain,
            path: parsed.path,
            tag: parsed.tag,
            digest: parsed.digest,
        })
    }

    /// The registry host (and port), e.g. `docker.io`, `localhost:5000`; empty in the
    /// rare case described at [`Reference::name`].
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full repository name, e.g. `docker.io/library/busybox`. (A first
    /// component with '.' or ':' that is not a valid host, such as `a_b.c/x`, leaves
    /// the domain empty, as in distribution/reference.)
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            return self.path.clone();
        }
        format!("{}/{}", self.domain, self.path)
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Neither tag nor digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The name as Docker shows it: Docker Hub's domain and `library/` dropped, e.g.
    /// `busybox`, `user/app`, `localhost:5000/a/b`.
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_owned(),
            _ => self.path.clone(),
        }
    }

    /// The reference as Docker shows it, e.g. `busybox:latest`, `user/app:1`,
    /// `localhost:5000/a/b:1`, `busybox@sha256:...`.
    pub fn familiar(&self) -> String {
        let mut out = self.familiar_name();
        self.push_suffix(&mut out);
        out
    }

    /// The same repository with `tag` (and this reference's digest dropped).
    pub fn with_tag(&self, tag: &str) -> Result<Self> {
        if !grammar::is_tag(tag) {
            return Err(invalid(
                tag,
                format!(
                    "invalid tag format: {tag:?} (a tag is up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-')"
                ),
            ));
        }
        Ok(Self {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.repository()
        })
    }

    /// The same repository pinned to `digest` (tag dropped).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            digest: Some(digest),
            tag: None,
            ..self.repository()
        }
    }

    /// The repository alone, without tag or digest.
    pub fn repository(&self) -> Self {
        Self {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    fn push_suffix(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(&digest.to_string());
        }
    }
}

fn invalid(input: &str, message: impl Into<String>) -> OciError {
    OciError::InvalidReference {
        input: input.to_owned(),
        message: message.into(),
    }
}

/// Splits off the registry: the first component is a domain when it contains `.` or
/// `:`, is `localhost`, or has uppercase letters (repository paths cannot); otherwise
/// the name is on Docker Hub, and single names are official (`library/`) images.
fn split_docker_domain(name: &str) -> (&str, String) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        return (DEFAULT_DOMAIN, format!("{OFFICIAL_REPO_PREFIX}{name}"));
    };
    let (domain, remote) = if maybe_domain == "localhost" {
        (maybe_domain, maybe_remote)
    } else if maybe_domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN, maybe_remote)
    } else if maybe_domain.contains(['.', ':']) || maybe_domain.to_lowercase() != maybe_domain {
        (maybe_domain, maybe_remote)
    } else {
        (DEFAULT_DOMAIN, name)
    };
    if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        return (domain, format!("{OFFICIAL_REPO_PREFIX}{remote}"));
    }
    (domain, remote.to_owned())
}

/// The full form: `docker.io/library/busybox:latest`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.name();
        self.push_suffix(&mut out);
        f.write_str(&out)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl FromStr for Reference {
    type Err = OciError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl serde::Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_named(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
