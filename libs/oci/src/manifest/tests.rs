use super::*;
use crate::media_type::{
    DOCKER_CONFIG, DOCKER_LAYER_TAR_GZIP, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX,
};

fn docker_manifest() -> Vec<u8> {
    let config = Digest::of(b"config");
    let layer = Digest::of(b"layer");
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"{DOCKER_CONFIG}","size":6,"digest":"{config}"}},"layers":[{{"mediaType":"{DOCKER_LAYER_TAR_GZIP}","size":5,"digest":"{layer}"}}]}}"#
    )
    .into_bytes()
}

#[test]
fn parses_docker_schema2_into_oci_types() {
    let bytes = docker_manifest();
    let Manifest::Image(m) = Manifest::parse(&bytes, None).unwrap() else {
        panic!("not an image manifest")
    };
    assert_eq!(m.config().media_type().to_string(), DOCKER_CONFIG);
    assert_eq!(
        m.layers()[0].media_type().to_string(),
        DOCKER_LAYER_TAR_GZIP
    );
    // The descriptor is of the exact bytes, never of a re-encoding.
    let d = descriptor_of(DOCKER_MANIFEST, &bytes);
    assert_eq!(descriptor_digest(&d).unwrap(), Digest::of(&bytes));
    assert_eq!(d.size(), bytes.len() as u64);
}

#[test]
fn parses_manifest_lists_and_indexes() {
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[{{"mediaType":"{DOCKER_MANIFEST}","size":1,"digest":"{}","platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#,
        Digest::of(b"x")
    );
    assert!(matches!(
        Manifest::parse(list.as_bytes(), None).unwrap(),
        Manifest::Index(_)
    ));
    let bare = r#"{"schemaVersion":2,"manifests":[]}"#;
    assert!(matches!(
        Manifest::parse(bare.as_bytes(), Some(OCI_INDEX)).unwrap(),
        Manifest::Index(_)
    ));
    assert!(matches!(
        Manifest::parse(bare.as_bytes(), None).unwrap(),
        Manifest::Index(_)
    ));
}

#[test]
fn refuses_what_it_cannot_read() {
    let schema1 = br#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
    assert!(
        Manifest::parse(schema1, None)
            .unwrap_err()
            .to_string()
            .contains("schema 1")
    );
    assert!(
        Manifest::parse(b"not json", None)
            .unwrap_err()
            .to_string()
            .contains("not a JSON manifest")
    );
    let contradiction = Manifest::parse(&docker_manifest(), Some(OCI_INDEX)).unwrap_err();
    assert!(
        contradiction.to_string().contains("was given as"),
        "{contradiction}"
    );
    let sha512 = docker_manifest()
        .iter()
        .map(|b| *b as char)
        .collect::<String>()
        .replacen("sha256:", "sha512:", 1);
    assert!(Manifest::parse(sha512.as_bytes(), None).is_err());
}

#[test]
fn canonical_json_sorts_keys() {
    let v = serde_json::json!({"b": 1, "a": {"d": [ {"z": 1, "y": 2} ], "c": null}});
    assert_eq!(
        String::from_utf8(canonical_json(&v).unwrap()).unwrap(),
        r#"{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}"#
    );
}
