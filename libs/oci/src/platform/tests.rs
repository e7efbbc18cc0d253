use oci_spec::image::{Descriptor, ImageIndex, MediaType};

use super::*;

fn entry(n: u8, platform: Option<(&str, &str, Option<&str>)>) -> Descriptor {
    let digest = crate::digest::Digest::of(&[n]).to_oci();
    let mut d = Descriptor::new(MediaType::ImageManifest, 100 + u64::from(n), digest);
    d.set_platform(platform.map(|(os, arch, variant)| Platform::new(os, arch, variant).to_oci()));
    d
}

fn index(entries: Vec<Descriptor>) -> ImageIndex {
    let mut index = ImageIndex::default();
    index.set_manifests(entries);
    index
}

fn pick(index: &ImageIndex, want: &str) -> u64 {
    select_manifest(index, &Platform::parse(want).unwrap())
        .unwrap()
        .size()
}

#[test]
fn picks_exact_platform_first() {
    let idx = index(vec![
        entry(0, Some(("unknown", "unknown", None))),
        entry(1, Some(("linux", "386", None))),
        entry(2, Some(("linux", "amd64", None))),
        entry(3, Some(("linux", "arm", Some("v6")))),
        entry(4, Some(("linux", "arm", Some("v7")))),
        entry(5, Some(("linux", "arm64", Some("v8")))),
        entry(6, Some(("windows", "amd64", None))),
        entry(7, None),
    ]);
    assert_eq!(pick(&idx, "linux/amd64"), 102);
    assert_eq!(pick(&idx, "linux/x86_64"), 102);
    assert_eq!(pick(&idx, "linux/arm64"), 105);
    assert_eq!(pick(&idx, "linux/aarch64"), 105);
    assert_eq!(pick(&idx, "linux/arm64/v8"), 105);
    assert_eq!(pick(&idx, "linux/arm/v7"), 104);
    assert_eq!(pick(&idx, "linux/arm"), 104);
    assert_eq!(pick(&idx, "linux/arm/v6"), 103);
    assert_eq!(pick(&idx, "windows/amd64"), 106);
    assert_eq!(pick(&idx, "linux/386"), 101);
}

#[test]
fn falls_back_to_compatible_platforms() {
    let idx = index(vec![
        entry(1, Some(("linux", "386", None))),
        entry(3, Some(("linux", "arm", Some("v6")))),
    ]);
    assert_eq!(pick(&idx, "linux/amd64"), 101);
    assert_eq!(pick(&idx, "linux/arm64"), 103);
    assert_eq!(pick(&idx, "linux/arm/v7"), 103);
    let err = select_manifest(&idx, &Platform::parse("linux/s390x").unwrap()).unwrap_err();
    assert!(
        err.to_string()
            .contains("no matching manifest for linux/s390x"),
        "{err}"
    );
    assert!(err.to_string().contains("linux/386, linux/arm/v6"), "{err}");
    let only_arm64 = index(vec![entry(5, Some(("linux", "arm64", None)))]);
    assert!(select_manifest(&only_arm64, &Platform::parse("linux/arm/v7").unwrap()).is_err());
}

#[test]
fn host_platform_uses_go_names() {
    let host = Platform::host();
    assert_eq!(host.os, "linux");
    let (arch, variant) = go_arch(std::env::consts::ARCH);
    assert_eq!(host.architecture, arch);
    assert_eq!(host.variant.as_deref(), variant);
    assert_eq!(go_arch("x86_64"), ("amd64", None));
    assert_eq!(go_arch("aarch64"), ("arm64", Some("v8")));
    assert_eq!(
        Platform::new("linux", "arm64", Some("v8")).to_string(),
        "linux/arm64/v8"
    );
}

#[test]
fn parses_platform_strings() {
    assert_eq!(
        Platform::parse("linux/amd64").unwrap(),
        Platform::new("linux", "amd64", None)
    );
    assert_eq!(
        Platform::parse("Linux/ARM64/v8").unwrap(),
        Platform::new("linux", "arm64", None)
    );
    assert_eq!(
        Platform::parse("linux/armhf").unwrap(),
        Platform::new("linux", "arm", Some("v7"))
    );
    assert_eq!(Platform::parse("arm64").unwrap().os, "linux");
    assert_eq!(Platform::parse("windows").unwrap().os, "windows");
    for bad in ["", "linux/", "a/b/c/d", "linux/am d64"] {
        assert!(Platform::parse(bad).is_err(), "{bad:?}");
    }
}
