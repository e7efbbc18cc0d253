//! The json-file log of a real container: Docker's line format and rotation.

use crate::support::TestEnv;

#[test]
fn json_file_lines_match_docker_and_rotate() {
    let mut env = TestEnv::new("logs");
    let script = "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done; echo oops >&2";
    let mut cfg = TestEnv::config(&["sh", "-c", script]);
    cfg.log.max_size = 1024;
    cfg.log.max_file = 3;
    let h = env.create(&cfg);
    env.runtime.start(&h.id).unwrap();
    assert_eq!(env.runtime.wait(&h.id, None).unwrap().exit_code, 0);

    let name = |n: u32| {
        let mut p = h.log_path.clone().into_os_string();
        p.push(format!(".{n}"));
        std::path::PathBuf::from(p)
    };
    assert!(
        name(1).exists() && name(2).exists(),
        "rotated files are missing"
    );
    assert!(!name(3).exists(), "max-file 3 keeps three files");
    let live = std::fs::read_to_string(&h.log_path).unwrap();
    assert!(live.len() < 1024 + 200, "live log is {} bytes", live.len());
    let lines: Vec<&str> = live.lines().collect();
    let last: serde_json::Value = serde_json::from_str(lines[lines.len() - 1]).unwrap();
    assert_eq!(last["log"], "oops\n");
    assert_eq!(last["stream"], "stderr");
    let before: serde_json::Value = serde_json::from_str(lines[lines.len() - 2]).unwrap();
    assert_eq!(
        (before["log"].as_str(), before["stream"].as_str()),
        (Some("line 199\n"), Some("stdout"))
    );
    for line in lines {
        assert!(
            line.starts_with("{\"log\":\"")
                && line.contains("\",\"stream\":\"")
                && line.ends_with("Z\"}"),
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let time = v["time"].as_str().unwrap();
        assert_eq!(&time[4..5], "-");
        assert_eq!(&time[10..11], "T");
        assert!(time.ends_with('Z'));
    }
}
