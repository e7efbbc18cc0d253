//! `--change` instructions applied to a container config, as `docker commit --change`
//! and `docker import --change` do.

use berth_oci::{OciError, apply_changes, apply_changes_to_image_config, parse_changes};
use serde_json::{Map, Value, json};

fn base() -> Map<String, Value> {
    json!({
        "Env": ["PATH=/usr/bin:/bin", "HOME=/root"],
        "Cmd": ["sh"],
        "WorkingDir": "/srv",
        "Labels": {"keep": "me"},
        "Healthcheck": {"Test": ["CMD", "true"]}
    })
    .as_object()
    .unwrap()
    .clone()
}

fn apply(changes: &[&str]) -> Result<Map<String, Value>, OciError> {
    let mut config = base();
    apply_changes(&mut config, &parse_changes(changes)?)?;
    Ok(config)
}

#[test]
fn valid_changes_table() {
    // (changes, key, expected value of that key afterwards)
    let cases: Vec<(&[&str], &str, Value)> = vec![
        (
            &[r#"CMD ["nginx", "-g", "daemon off;"]"#],
            "Cmd",
            json!(["nginx", "-g", "daemon off;"]),
        ),
        (
            &["CMD echo \"hi there\""],
            "Cmd",
            json!(["/bin/sh", "-c", "echo \"hi there\""]),
        ),
        (&["cmd []"], "Cmd", json!([])),
        (
            &[r#"CMD ["a", 1]"#],
            "Cmd",
            json!(["/bin/sh", "-c", r#"["a", 1]"#]),
        ),
        (&[r#"ENTRYPOINT ["/app"]"#], "Entrypoint", json!(["/app"])),
        (&[r#"ENTRYPOINT ["/app"]"#], "Cmd", Value::Null),
        (
            &["CMD x", r#"ENTRYPOINT ["/app"]"#],
            "Cmd",
            json!(["/bin/sh", "-c", "x"]),
        ),
        (
            &["ENTRYPOINT exec /app --flag"],
            "Entrypoint",
            json!(["/bin/sh", "-c", "exec /app --flag"]),
        ),
        (
            &["ENV A=1"],
            "Env",
            json!(["PATH=/usr/bin:/bin", "HOME=/root", "A=1"]),
        ),
        (
            &["ENV A 1 2  3"],
            "Env",
            json!(["PATH=/usr/bin:/bin", "HOME=/root", "A=1 2  3"]),
        ),
        (
            &[r#"ENV A="x y" B=two"#],
            "Env",
            json!(["PATH=/usr/bin:/bin", "HOME=/root", "A=x y", "B=two"]),
        ),
        (
            &["ENV HOME=/home/me"],
            "Env",
            json!(["PATH=/usr/bin:/bin", "HOME=/home/me"]),
        ),
        (
            &["ENV PATH=$PATH:/opt/bin"],
            "Env",
            json!(["PATH=/usr/bin:/bin:/opt/bin", "HOME=/root"]),
        ),
        (
            &["ENV A=1", "ENV B=${A}2"],
            "Env",
            json!(["PATH=/usr/bin:/bin", "HOME=/root", "A=1", "B=12"]),
        ),
        (
            &["ENV Q='$HOME'"],
            "Env",
            json!(["PATH=/usr/bin:/bin", "HOME=/root", "Q=$HOME"]),
        ),
        (&["EXPOSE 80"], "ExposedPorts", json!({"80/tcp": {}})),
        (
            &["EXPOSE 80/tcp 53/UDP 9000-9001/sctp"],
            "ExposedPorts",
            json!({"80/tcp": {}, "53/udp": {}, "9000/sctp": {}, "9001/sctp": {}}),
        ),
        (
            &["LABEL a=b \"c d\"=\"e f\""],
            "Labels",
            json!({"keep": "me", "a": "b", "c d": "e f"}),
        ),
        (
            &["LABEL version 1.0 beta"],
            "Labels",
            json!({"keep": "me", "version": "1.0 beta"}),
        ),
        (&["USER nobody:nogroup"], "User", json!("nobody:nogroup")),
        (&["WORKDIR /app"], "WorkingDir", json!("/app")),
        (&["WORKDIR sub/dir"], "WorkingDir", json!("/srv/sub/dir")),
        (&["WORKDIR $HOME"], "WorkingDir", json!("/root")),
        (
            &["VOLUME /data /logs"],
            "Volumes",
            json!({"/data": {}, "/logs": {}}),
        ),
        (
            &[r#"VOLUME ["/var/lib/db"]"#],
            "Volumes",
            json!({"/var/lib/db": {}}),
        ),
        (&["STOPSIGNAL SIGQUIT"], "StopSignal", json!("SIGQUIT")),
        (&["STOPSIGNAL 9"], "StopSignal", json!("9")),
        (&["STOPSIGNAL RTMIN+3"], "StopSignal", json!("RTMIN+3")),
        (&["ONBUILD RUN echo hi"], "OnBuild", json!(["RUN echo hi"])),
        (
            &["ONBUILD COPY . /src", "ONBUILD RUN make"],
            "OnBuild",
            json!(["COPY . /src", "RUN make"]),
        ),
        (&["ENV A=1\nCMD [\"a\"]"], "Cmd", json!(["a"])),
        (
            &["ENV A=1 \\\n  B=2"],
            "Env",
            json!(["PATH=/usr/bin:/bin", "HOME=/root", "A=1", "B=2"]),
        ),
        (&["# a comment\nUSER 1000"], "User", json!("1000")),
    ];
    for (changes, key, want) in cases {
        let config = apply(changes).unwrap_or_else(|e| panic!("{changes:?}: {e}"));
        assert_eq!(config.get(key), Some(&want), "{changes:?} -> {key}");
        // Fields oci-spec does not model survive.
        assert!(config.contains_key("Healthcheck"), "{changes:?}");
    }
}

#[test]
fn shell_form_uses_the_configured_shell() {
    let mut config = base();
    config.insert("Shell".into(), json!(["/bin/bash", "-o", "pipefail", "-c"]));
    apply_changes(&mut config, &parse_changes(&["CMD make"]).unwrap()).unwrap();
    assert_eq!(
        config["Cmd"],
        json!(["/bin/bash", "-o", "pipefail", "-c", "make"])
    );
}

#[test]
fn import_config_gets_a_config_object() {
    let mut image = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}});
    let changes = parse_changes(&["CMD [\"/bin/sh\"]", "ENV A=1"]).unwrap();
    apply_changes_to_image_config(&mut image, &changes).unwrap();
    assert_eq!(image["config"], json!({"Cmd": ["/bin/sh"], "Env": ["A=1"]}));
}

#[test]
fn invalid_changes_table() {
    let cases: &[(&str, &str)] = &[
        (
            "RUN echo hi",
            "dockerfile instruction RUN is not allowed in --change \"RUN echo hi\"",
        ),
        ("FROM busybox", "dockerfile instruction FROM is not allowed"),
        ("COPY a b", "dockerfile instruction COPY is not allowed"),
        ("add a b", "dockerfile instruction ADD is not allowed"),
        (
            "HEALTHCHECK CMD true",
            "dockerfile instruction HEALTHCHECK is not allowed",
        ),
        (
            "SHELL [\"/bin/bash\"]",
            "dockerfile instruction SHELL is not allowed",
        ),
        (
            "MAINTAINER me",
            "dockerfile instruction MAINTAINER is not allowed",
        ),
        ("ARG X=1", "dockerfile instruction ARG is not allowed"),
        ("BOGUS x", "dockerfile instruction BOGUS is not allowed"),
        ("CMD", "CMD requires at least one argument"),
        ("ENV", "ENV requires at least one argument"),
        ("ENV A", "ENV must have two arguments"),
        ("ENV A=1 B", "can't find = in \"B\""),
        ("ENV =1", "ENV names can not be blank"),
        ("LABEL", "LABEL requires at least one argument"),
        ("EXPOSE", "EXPOSE requires at least one argument"),
        ("EXPOSE 80/xyz", "invalid proto: xyz"),
        ("EXPOSE 70000", "invalid containerPort: 70000"),
        ("EXPOSE abc", "invalid containerPort: abc"),
        ("EXPOSE 8080:80", "EXPOSE takes container ports only"),
        ("EXPOSE 90-80", "invalid port range"),
        ("USER", "USER requires exactly one argument"),
        ("WORKDIR", "WORKDIR requires exactly one argument"),
        ("STOPSIGNAL SIGBOGUS", "Invalid signal: SIGBOGUS"),
        ("STOPSIGNAL 0", "Invalid signal: 0"),
        (
            "VOLUME [\"\"]",
            "VOLUME specified can not be an empty string",
        ),
        (
            "ONBUILD ONBUILD RUN x",
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        (
            "ONBUILD MAINTAINER x",
            "MAINTAINER isn't allowed as an ONBUILD trigger",
        ),
        ("ENV A=\"open", "matching double-quote"),
        ("ENV A=${B#x}", "unsupported modifier"),
    ];
    for (change, want) in cases {
        let err = apply(&[change])
            .map(|c| panic!("{change:?} applied: {c:?}"))
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(want),
            "{change:?}: got {text:?}, want {want:?}"
        );
        assert!(
            text.contains(change.split_whitespace().next().unwrap()),
            "{text:?} names the change"
        );
    }
}
