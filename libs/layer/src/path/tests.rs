use super::*;

fn canon(raw: &str) -> String {
    String::from_utf8(
        MemberPath::parse(raw.as_bytes())
            .unwrap()
            .as_bytes()
            .to_vec(),
    )
    .unwrap()
}

#[test]
fn harmless_forms_are_normalised() {
    assert_eq!(canon("a/b"), "a/b");
    assert_eq!(canon("./a/b/"), "a/b");
    assert_eq!(canon("a//./b"), "a/b");
    assert_eq!(canon("./"), "");
    assert_eq!(canon("."), "");
    assert_eq!(canon("..."), "...");
    assert_eq!(canon("a/..b"), "a/..b");
}

#[test]
fn escapes_are_refused_not_fixed() {
    for raw in [
        "../x",
        "a/../../x",
        "a/..",
        "..",
        "/x",
        "/",
        "//etc/passwd",
        "./../x",
    ] {
        let err = MemberPath::parse(raw.as_bytes()).unwrap_err();
        assert!(matches!(err, LayerError::Escape { .. }), "{raw}: {err}");
        assert!(
            err.to_string().contains("escapes the target directory"),
            "{err}"
        );
    }
    assert!(matches!(
        MemberPath::parse(b"a\0b"),
        Err(LayerError::InvalidEntry { .. })
    ));
}

#[test]
fn parent_name_and_ancestors() {
    let p = MemberPath::parse(b"a/b/c").unwrap();
    assert_eq!(p.parent(), b"a/b");
    assert_eq!(p.name(), b"c");
    let ancestors: Vec<&[u8]> = p.ancestors().collect();
    assert_eq!(ancestors, vec![&b"a/b"[..], &b"a"[..]]);
    let top = MemberPath::parse(b"top").unwrap();
    assert_eq!(top.parent(), b"");
    assert_eq!(top.ancestors().count(), 0);
    assert_eq!(MemberPath::parse(b"").unwrap().join(b"x").as_bytes(), b"x");
}

#[test]
fn whiteouts_are_classified_opaque_first() {
    let kind = |raw: &str| whiteout_kind(&MemberPath::parse(raw.as_bytes()).unwrap());
    assert_eq!(kind("d/file").unwrap(), WhiteoutKind::None);
    assert_eq!(
        kind("d/.wh..wh..opq").unwrap(),
        WhiteoutKind::Opaque(MemberPath::parse(b"d").unwrap())
    );
    assert_eq!(
        kind(".wh..wh..opq").unwrap(),
        WhiteoutKind::Opaque(MemberPath::parse(b"").unwrap())
    );
    assert_eq!(
        kind("d/.wh.secret").unwrap(),
        WhiteoutKind::Whiteout(MemberPath::parse(b"d/secret").unwrap())
    );
    assert_eq!(kind("d/.wh..wh.plnk").unwrap(), WhiteoutKind::AufsMeta);
    assert!(kind("d/.wh.").is_err());
    assert!(kind("d/.wh...").is_err());
    assert!(kind("d/.wh..").is_err());
}
