//! Docker's reference normalisation, case by case (cases from distribution/reference's
//! own tests and the docker CLI), familiar forms, and ID-versus-name classification.

use berth_oci::{Digest, ImageLookup, Reference, classify_image_ref};
use proptest::prelude::*;

const D: &str = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
const HEX: &str = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";

/// (input, full normalised form, familiar form)
fn valid_cases() -> Vec<(String, String, String)> {
    let c = |a: &str, b: &str, f: &str| (a.to_owned(), b.to_owned(), f.to_owned());
    vec![
        c(
            "busybox",
            "docker.io/library/busybox:latest",
            "busybox:latest",
        ),
        c(
            "busybox:1.36",
            "docker.io/library/busybox:1.36",
            "busybox:1.36",
        ),
        c(
            "busybox:Latest_1.x-y",
            "docker.io/library/busybox:Latest_1.x-y",
            "busybox:Latest_1.x-y",
        ),
        c("user/app", "docker.io/user/app:latest", "user/app:latest"),
        c("user/app:1", "docker.io/user/app:1", "user/app:1"),
        c(
            "localhost:5000/a/b:1",
            "localhost:5000/a/b:1",
            "localhost:5000/a/b:1",
        ),
        c(
            "registry.example.com/x",
            "registry.example.com/x:latest",
            "registry.example.com/x:latest",
        ),
        c("localhost/x", "localhost/x:latest", "localhost/x:latest"),
        c(
            "docker.io/busybox",
            "docker.io/library/busybox:latest",
            "busybox:latest",
        ),
        c(
            "docker.io/library/busybox:1",
            "docker.io/library/busybox:1",
            "busybox:1",
        ),
        c(
            "index.docker.io/library/busybox",
            "docker.io/library/busybox:latest",
            "busybox:latest",
        ),
        c(
            "index.docker.io/user/app",
            "docker.io/user/app:latest",
            "user/app:latest",
        ),
        c(
            "library/foo/bar",
            "docker.io/library/foo/bar:latest",
            "library/foo/bar:latest",
        ),
        c(
            &format!("busybox@{D}"),
            &format!("docker.io/library/busybox@{D}"),
            &format!("busybox@{D}"),
        ),
        c(
            &format!("busybox:1@{D}"),
            &format!("docker.io/library/busybox:1@{D}"),
            &format!("busybox:1@{D}"),
        ),
        c(
            &format!("localhost:5000/a@{D}"),
            &format!("localhost:5000/a@{D}"),
            &format!("localhost:5000/a@{D}"),
        ),
        c(
            "127.0.0.1:5000/debian",
            "127.0.0.1:5000/debian:latest",
            "127.0.0.1:5000/debian:latest",
        ),
        c(
            "[fc00::1]:5000/docker",
            "[fc00::1]:5000/docker:latest",
            "[fc00::1]:5000/docker:latest",
        ),
        c("Foo/bar", "Foo/bar:latest", "Foo/bar:latest"),
        c(
            "test_com/foo",
            "docker.io/test_com/foo:latest",
            "test_com/foo:latest",
        ),
        c(
            "test-com:8080/foo",
            "test-com:8080/foo:latest",
            "test-com:8080/foo:latest",
        ),
        c(
            "xn--n3h.com/foo",
            "xn--n3h.com/foo:latest",
            "xn--n3h.com/foo:latest",
        ),
        c(
            "dock__er/docker",
            "docker.io/dock__er/docker:latest",
            "dock__er/docker:latest",
        ),
        c(
            "docker---rules/docker",
            "docker.io/docker---rules/docker:latest",
            "docker---rules/docker:latest",
        ),
        c("a.b_c/d-e", "a.b_c/d-e:latest", "a.b_c/d-e:latest"),
        c(
            "192.168.0.1",
            "docker.io/library/192.168.0.1:latest",
            "192.168.0.1:latest",
        ),
        c(
            "localhost:5000",
            "docker.io/library/localhost:5000",
            "localhost:5000",
        ),
        c(
            &format!("docker.io/{HEX}"),
            &format!("docker.io/library/{HEX}:latest"),
            &format!("{HEX}:latest"),
        ),
        c(
            &format!("a:{}", "x".repeat(128)),
            &format!("docker.io/library/a:{}", "x".repeat(128)),
            &format!("a:{}", "x".repeat(128)),
        ),
        c(
            &"a".repeat(247),
            &format!("docker.io/library/{}:latest", "a".repeat(247)),
            &format!("{}:latest", "a".repeat(247)),
        ),
    ]
}

/// (input, a piece of the expected error)
fn invalid_cases() -> Vec<(String, String)> {
    let c = |a: &str, e: &str| (a.to_owned(), e.to_owned());
    vec![
        c(
            "Busybox",
            "invalid reference format: repository name (library/Busybox) must be lowercase",
        ),
        c(
            "docker/Docker",
            "repository name (docker/Docker) must be lowercase",
        ),
        c("docker.io/docker/Docker", "must be lowercase"),
        c("", "invalid reference format"),
        c("-docker", "invalid reference format"),
        c("-docker/docker", "invalid reference format"),
        c("docker-/docker", "invalid reference format"),
        c("docker///docker", "invalid reference format"),
        c("dock..er/docker", "invalid reference format"),
        c("____/____", "invalid reference format"),
        c("docker/", "invalid reference format"),
        c(
            "https://github.com/docker/docker",
            "invalid reference format",
        ),
        c("[fc00::1]:5000", "invalid reference format"),
        c("fc00::1:5000/debian", "invalid reference format"),
        c("[fe80::1%eth0]:5000/debian", "invalid reference format"),
        c(HEX, "cannot specify 64-byte hexadecimal strings"),
        c("busybox:", "invalid reference format"),
        c("busybox:-x", "invalid reference format"),
        c(
            &format!("a:{}", "x".repeat(129)),
            "invalid reference format",
        ),
        c("a b", "invalid reference format"),
        c("busybox@sha256:abc", "invalid reference format"),
        c(
            "busybox@sha256:0123456789abcdef0123456789abcdef01",
            "invalid checksum digest length",
        ),
        c(
            &format!("busybox@sha256:{}", HEX.to_uppercase()),
            "invalid checksum digest format",
        ),
        c(
            &format!("busybox@sha512:{}", "a".repeat(128)),
            "unsupported digest algorithm sha512",
        ),
        c(
            &format!("x/{}", "a".repeat(256)),
            "repository name must not be more than 255 characters",
        ),
    ]
}

#[test]
fn normalises_like_docker() {
    let cases = valid_cases();
    assert!(cases.len() >= 30);
    for (input, full, familiar) in cases {
        let r = Reference::parse(&input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(r.to_string(), full, "full form of {input:?}");
        assert_eq!(r.familiar(), familiar, "familiar form of {input:?}");
        // Both forms parse back to the same reference.
        assert_eq!(Reference::parse(&full).unwrap(), r, "{full:?}");
        assert_eq!(Reference::parse(&familiar).unwrap(), r, "{familiar:?}");
    }
}

#[test]
fn rejects_like_docker() {
    for (input, want) in invalid_cases() {
        let err = Reference::parse(&input)
            .map(|r| panic!("{input:?} parsed as {r}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&want), "{input:?}: got {err:?}, want {want:?}");
    }
}

#[test]
fn exposes_parts() {
    let r = Reference::parse("localhost:5000/team/app:2").unwrap();
    assert_eq!(r.domain(), "localhost:5000");
    assert_eq!(r.path(), "team/app");
    assert_eq!(r.name(), "localhost:5000/team/app");
    assert_eq!(r.tag(), Some("2"));
    assert_eq!(r.familiar_name(), "localhost:5000/team/app");
    let named = Reference::parse_named("busybox").unwrap();
    assert!(named.is_name_only());
    assert_eq!(named.to_string(), "docker.io/library/busybox");
    let tagged = named.with_tag("musl").unwrap();
    assert_eq!(tagged.familiar(), "busybox:musl");
    assert!(named.with_tag(".bad").is_err());
    let pinned = tagged.with_digest(Digest::parse(D).unwrap());
    assert_eq!(pinned.familiar(), format!("busybox@{D}"));
    assert_eq!(pinned.repository(), named);
}

#[test]
fn classifies_ids_and_names() {
    let id = Digest::parse(D).unwrap();
    assert_eq!(classify_image_ref(D).unwrap(), ImageLookup::Id(id.clone()));
    assert_eq!(classify_image_ref(HEX).unwrap(), ImageLookup::Id(id));
    let name = |s: &str| Reference::parse(s).unwrap();
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("busybox", "busybox", None),
        ("abc123", "abc123", Some("abc123")),
        ("deadbeef", "deadbeef", Some("deadbeef")),
        ("sha256:dead", "sha256:dead", Some("dead")),
        ("user/app:1", "user/app:1", None),
        (&HEX[..63], &HEX[..63], Some(&HEX[..63])),
    ];
    for (input, reference, prefix) in cases {
        assert_eq!(
            classify_image_ref(input).unwrap(),
            ImageLookup::Name {
                reference: name(reference),
                id_prefix: prefix.map(str::to_owned),
            },
            "{input}"
        );
    }
    assert!(classify_image_ref("Busybox").is_err());
    let sha512 = format!("sha512:{}", "a".repeat(128));
    assert!(
        classify_image_ref(&sha512)
            .unwrap_err()
            .to_string()
            .contains("sha256 digests only")
    );
}

fn component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,5}([._-][a-z0-9]{1,5}){0,2}"
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn full_and_familiar_forms_round_trip(
        domain in prop::option::of("[a-z]{1,6}\\.[a-z]{2,3}(:[0-9]{1,5})?"),
        path in prop::collection::vec(component(), 1..4),
        tag in prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
    ) {
        let mut input = path.join("/");
        if let Some(d) = &domain {
            input = format!("{d}/{input}");
        }
        if let Some(t) = &tag {
            input = format!("{input}:{t}");
        }
        let r = Reference::parse(&input).unwrap();
        prop_assert_eq!(Reference::parse(&r.to_string()).unwrap(), r.clone());
        prop_assert_eq!(Reference::parse(&r.familiar()).unwrap(), r.clone());
        prop_assert_eq!(r.tag(), Some(tag.as_deref().unwrap_or("latest")));
    }
}
