use super::*;

#[test]
fn splits_domains_like_distribution() {
    assert_eq!(
        split_docker_domain("busybox"),
        ("docker.io", "library/busybox".into())
    );
    assert_eq!(
        split_docker_domain("user/app"),
        ("docker.io", "user/app".into())
    );
    assert_eq!(
        split_docker_domain("docker.io/app"),
        ("docker.io", "library/app".into())
    );
    assert_eq!(
        split_docker_domain("index.docker.io/u/a"),
        ("docker.io", "u/a".into())
    );
    assert_eq!(
        split_docker_domain("localhost/a"),
        ("localhost", "a".into())
    );
    assert_eq!(
        split_docker_domain("host:5000/a"),
        ("host:5000", "a".into())
    );
    assert_eq!(split_docker_domain("Upper/a"), ("Upper", "a".into()));
    assert_eq!(
        split_docker_domain("example.com/a"),
        ("example.com", "a".into())
    );
}

#[test]
fn serde_uses_the_full_form() {
    let r = Reference::parse("busybox").unwrap();
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(json, "\"docker.io/library/busybox:latest\"");
    assert_eq!(serde_json::from_str::<Reference>(&json).unwrap(), r);
}
