//! Platforms (`os/architecture/variant` with Go's names) and choosing the manifest for
//! one from an index, following containerd's `platforms.Only` that Docker uses: the
//! exact platform first, then the ones it can also run (amd64 runs 386, arm64 runs
//! 32-bit arm, arm/v7 runs v6 and v5).
//!
//! This module must never read anything: it matches what it is given.

use std::fmt;

use oci_spec::image::{Descriptor, ImageIndex};

use crate::error::{OciError, Result};

/// An `os/architecture[/variant]` triple, in Go's (and OCI's) naming.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Self {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }

    /// The platform of the machine berth runs on: `linux/amd64` on x86_64,
    /// `linux/arm64/v8` on aarch64, and so on.
    pub fn host() -> Self {
        let (architecture, variant) = go_arch(std::env::consts::ARCH);
        Self::new(&go_os(std::env::consts::OS), architecture, variant)
    }

    /// Parses `os[/arch[/variant]]` as `--platform` takes it; a single word is an OS
    /// (with the host's architecture) when it is a known OS, else an architecture on
    /// linux.
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason: &str| OciError::InvalidPlatform {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let parts: Vec<&str> = input.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
            return Err(bad("empty or too many components"));
        }
        let ok = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        };
        if !parts.iter().all(|p| ok(p)) {
            return Err(bad(
                "components may use only letters, digits, '_', '-' and '.'",
            ));
        }
        let lower: Vec<String> = parts.iter().map(|p| p.to_ascii_lowercase()).collect();
        let platform = match lower.as_slice() {
            [one] if KNOWN_OS.contains(&one.as_str()) => {
                Self::new(one, &Self::host().architecture, None)
            }
            [one] => Self::new("linux", one, None),
            [os, arch] => Self::new(os, arch, None),
            [os, arch, variant] => Self::new(os, arch, Some(variant)),
            _ => unreachable!("checked above"),
        };
        Ok(platform.normalized())
    }

    /// containerd's normalisation: Go names for architectures (`x86_64` -> `amd64`,
    /// `aarch64` -> `arm64`), default variants dropped or filled in (`arm64/v8` ->
    /// `arm64`, `arm` -> `arm/v7`).
    pub fn normalized(&self) -> Self {
        let os = match self.os.to_ascii_lowercase().as_str() {
            "macos" => "darwin".to_owned(),
            other => other.to_owned(),
        };
        let variant = self.variant.as_deref().map(str::to_ascii_lowercase);
        let (architecture, variant) =
            normalize_arch(&self.architecture.to_ascii_lowercase(), variant);
        Self {
            os,
            architecture,
            variant,
        }
    }

    /// The oci-spec form, for descriptors and configs.
    pub fn to_oci(&self) -> oci_spec::image::Platform {
        let mut p = oci_spec::image::Platform::default();
        p.set_os(self.os.as_str().into());
        p.set_architecture(self.architecture.as_str().into());
        p.set_variant(self.variant.clone());
        p
    }

    pub fn from_oci(p: &oci_spec::image::Platform) -> Self {
        Self {
            os: p.os().to_string(),
            architecture: p.architecture().to_string(),
            variant: p.variant().clone().filter(|v| !v.is_empty()),
        }
    }

    /// Platforms this one can run, best first (containerd's `platforms.Only`).
    fn compatible(&self) -> Vec<Platform> {
        let me = self.normalized();
        let os = me.os.as_str();
        let variant_number = |v: Option<&str>, default: u32| {
            v.and_then(|v| {
                v.trim_start_matches('v')
                    .split('.')
                    .next()?
                    .parse::<u32>()
                    .ok()
            })
            .unwrap_or(default)
        };
        let arm_down_from = |top: u32| {
            (5..=top.min(8))
                .rev()
                .map(|n| Platform::new(os, "arm", Some(&format!("v{n}"))))
                .collect::<Vec<_>>()
        };
        match me.architecture.as_str() {
            "amd64" => {
                let top = variant_number(me.variant.as_deref(), 1);
                let mut out: Vec<_> = (1..=top.max(1))
                    .rev()
                    .map(|n| Platform::new(os, "amd64", Some(&format!("v{n}"))).normalized())
                    .collect();
                out.push(Platform::new(os, "386", None));
                out
            }
            "arm64" => {
                let mut out = vec![me.clone()];
                out.extend(arm_down_from(8));
                out
            }
            "arm" => arm_down_from(variant_number(me.variant.as_deref(), 7)),
            _ => vec![me],
        }
    }

    /// How well `candidate` suits this platform: `Some(0)` is an exact match, larger
    /// numbers are fallbacks, `None` cannot run here.
    pub fn match_rank(&self, candidate: &Platform) -> Option<usize> {
        let candidate = candidate.normalized();
        self.compatible().iter().position(|p| *p == candidate)
    }
}

/// Prints `os/arch[/variant]`.
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

const KNOWN_OS: &[&str] = &[
    "linux",
    "windows",
    "darwin",
    "freebsd",
    "netbsd",
    "openbsd",
    "solaris",
    "illumos",
    "aix",
    "android",
    "ios",
    "plan9",
    "dragonfly",
    "js",
    "wasip1",
    "macos",
];

fn normalize_arch(arch: &str, variant: Option<String>) -> (String, Option<String>) {
    let v = variant.as_deref().filter(|v| !v.is_empty());
    let (arch, variant): (&str, Option<String>) = match arch {
        "i386" | "i686" | "x86" | "386" => ("386", None),
        "x86_64" | "x86-64" | "amd64" => ("amd64", v.filter(|v| *v != "v1").map(str::to_owned)),
        "aarch64" | "arm64" => (
            "arm64",
            match v {
                None | Some("8" | "v8" | "v8.0") => None,
                Some("9" | "9.0" | "v9.0") => Some("v9".to_owned()),
                Some(other) => Some(other.to_owned()),
            },
        ),
        "armhf" => ("arm", Some("v7".to_owned())),
        "armel" => ("arm", Some("v6".to_owned())),
        "arm" => (
            "arm",
            Some(match v {
                None | Some("7") => "v7".to_owned(),
                Some(n @ ("5" | "6" | "8")) => format!("v{n}"),
                Some(other) => other.to_owned(),
            }),
        ),
        other => (other, v.map(str::to_owned)),
    };
    (arch.to_owned(), variant)
}

/// Go's GOARCH (and default variant) for a Rust `target_arch`.
pub fn go_arch(rust_arch: &str) -> (&'static str, Option<&'static str>) {
    match rust_arch {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "arm" => ("arm", Some("v7")),
        "x86" => ("386", None),
        "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
        "powerpc64" => ("ppc64", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        "loongarch64" => ("loong64", None),
        "mips64" if cfg!(target_endian = "little") => ("mips64le", None),
        "mips64" => ("mips64", None),
        "mips" if cfg!(target_endian = "little") => ("mipsle", None),
        "mips" => ("mips", None),
        _ => ("unknown", None),
    }
}

fn go_os(rust_os: &str) -> String {
    match rust_os {
        "macos" => "darwin".to_owned(),
        other => other.to_owned(),
    }
}

/// The descriptor in `index` that best suits `want` (exact platform first, then
/// compatible ones; the first in index order on a tie). Entries without a platform, or
/// with `unknown/unknown` (attestations), never match.
pub fn select_manifest<'a>(index: &'a ImageIndex, want: &Platform) -> Result<&'a Descriptor> {
    index
        .manifests()
        .iter()
        .filter_map(|d| {
            let p = Platform::from_oci(d.platform().as_ref()?);
            Some((want.match_rank(&p)?, d))
        })
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, d)| d)
        .ok_or_else(|| OciError::NoMatchingPlatform {
            wanted: want.to_string(),
            available: available(index),
        })
}

fn available(index: &ImageIndex) -> String {
    let names: Vec<String> = index
        .manifests()
        .iter()
        .filter_map(|d| {
            d.platform()
                .as_ref()
                .map(|p| Platform::from_oci(p).to_string())
        })
        .collect();
    if names.is_empty() {
        "none with a platform".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests;
