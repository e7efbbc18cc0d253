use super::*;

const CONFIG: &str = r#"{
  "architecture": "arm64", "variant": "v8", "os": "linux",
  "created": "2024-01-01T00:00:00Z",
  "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Labels": {"b": "2", "a": "1"}, "ExposedPorts": {"80/tcp": {}}},
  "container_config": {"Hostname": "docker-only"},
  "rootfs": {"type": "layers", "diff_ids": [
    "sha256:1111111111111111111111111111111111111111111111111111111111111111",
    "sha256:2222222222222222222222222222222222222222222222222222222222222222"]},
  "history": [
    {"created_by": "ADD rootfs /"},
    {"created_by": "ENV A=1", "empty_layer": true},
    {"created_by": "RUN make"}
  ]
}"#;

#[test]
fn reads_docker_configs() {
    let config = parse_config(CONFIG.as_bytes()).unwrap();
    let ids = diff_ids(&config).unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(created(&config), Some("2024-01-01T00:00:00Z"));
    assert_eq!(
        labels(&config).into_iter().collect::<Vec<_>>(),
        [("a".into(), "1".into()), ("b".into(), "2".into())]
    );
    assert_eq!(platform(&config).to_string(), "linux/arm64/v8");
    let steps = history(&config).unwrap();
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0].diff_id.as_ref(), Some(&ids[0]));
    assert_eq!(steps[1].diff_id, None);
    assert_eq!(steps[2].diff_id.as_ref(), Some(&ids[1]));
}

#[test]
fn configs_without_history_get_a_step_per_layer() {
    let bare = r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]}}"#;
    let steps = history(&parse_config(bare.as_bytes()).unwrap()).unwrap();
    assert_eq!(steps.len(), 1);
    assert!(steps[0].diff_id.is_some());
}

#[test]
fn invalid_configs_say_so() {
    assert!(
        parse_config(b"{}")
            .unwrap_err()
            .to_string()
            .starts_with("invalid image config sha256:")
    );
    let bad_id = CONFIG.replace("sha256:1111", "sha256:XXXX");
    assert!(diff_ids(&parse_config(bad_id.as_bytes()).unwrap()).is_err());
}
