//! Issue #9, finding 11: hostile or careless API input answers a 400 that says what is
//! wrong, as Docker answers it, never a 500, an internal path, or a half-made object.

use berth_testkit::{Berthd, docker, docker_ok, printed, require_tool};
use serde_json::{Value, json};

/// POSTs `body` to `path` on berthd's socket with curl; returns the status and the body.
fn post(berthd: &Berthd, path: &str, body: &Value) -> (u16, String) {
    let file = berthd.dir().join("request.json");
    std::fs::write(&file, serde_json::to_vec(body).unwrap()).unwrap();
    let out = std::process::Command::new(require_tool("curl", "curl"))
        .arg("-sS")
        .arg("--unix-socket")
        .arg(berthd.socket())
        .args(["-H", "Content-Type: application/json", "-X", "POST"])
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .args(["-w", "\n%{http_code}"])
        .arg(format!("http://berth/v1.47{path}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn create(berthd: &Berthd, host_config: Value) -> (u16, String) {
    post(
        berthd,
        "/containers/create",
        &json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": host_config}),
    )
}

#[test]
fn bad_resource_numbers_are_400s_without_host_paths() {
    let berthd = Berthd::with_busybox();
    for (host_config, expect) in [
        (json!({"Memory": 1i64 << 20}), "Minimum memory limit"),
        (json!({"Memory": -5}), "memory limit"),
        (
            json!({"Memory": 100 << 20, "MemorySwap": -5}),
            "memory swap",
        ),
        (
            json!({"Memory": 100 << 20, "MemorySwap": 50 << 20}),
            "memoryswap",
        ),
        (json!({"MemorySwap": 100 << 20}), "Memory limit"),
        (json!({"PidsLimit": 1i64 << 62}), "pids limit"),
        (json!({"NanoCpus": 1i64 << 62}), "Range of CPUs"),
    ] {
        let (code, body) = create(&berthd, host_config.clone());
        assert_eq!(code, 400, "{host_config}: {body}");
        assert!(body.contains(expect), "{host_config}: {body}");
        assert!(
            !body.contains("/sys/fs/cgroup") && !body.contains(berthd.dir().to_str().unwrap()),
            "{host_config} leaks a host path: {body}"
        );
    }
    // Nothing was left half made.
    assert_eq!(docker_ok(&berthd.docker_host(), &["ps", "-aq"]), "");

    // A limit near 2^62 overflowed when doubled for swap; it is a valid (huge) limit.
    let (code, body) = create(&berthd, json!({"Memory": (1i64 << 62) + 4096}));
    assert_eq!(code, 201, "{body}");
    let id: Value = serde_json::from_str(&body).unwrap();
    let id = id["Id"].as_str().unwrap();
    let out = docker(&berthd.docker_host(), &["start", "-a", id]);
    assert!(out.status.success(), "{}", printed(&out));
}

#[test]
fn bad_image_references_are_400s() {
    let berthd = Berthd::with_busybox();
    let huge = "a".repeat(100 * 1024);
    for image in [
        huge.as_str(),
        "Upper:1",
        "library/UPPER",
        "busybox:bad tag",
        "-leading",
    ] {
        let (code, body) = post(
            &berthd,
            "/containers/create",
            &json!({"Image": image, "Cmd": ["true"]}),
        );
        assert_eq!(code, 400, "{}: {body}", &image[..image.len().min(40)]);
        assert!(body.contains("invalid reference format"), "{body}");
        assert!(
            body.len() < 2048,
            "the answer echoes the input: {} bytes",
            body.len()
        );
    }
    // A valid name that is not there is still Docker's 404.
    let (code, body) = post(
        &berthd,
        "/containers/create",
        &json!({"Image": "no-such-image:1", "Cmd": ["true"]}),
    );
    assert_eq!(code, 404, "{body}");
}

#[test]
fn docker_import_of_random_bytes_makes_no_image() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let noise: Vec<u8> = (0u32..64 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file = berthd.dir().join("noise.bin");
    std::fs::write(&file, &noise).unwrap();
    let out = docker(&host, &["import", file.to_str().unwrap(), "noise:1"]);
    assert!(!out.status.success(), "{}", printed(&out));
    assert!(
        printed(&out).contains("not a tar archive"),
        "{}",
        printed(&out)
    );
    assert_eq!(docker_ok(&host, &["images", "-q"]), "");
    // A real (empty) archive still imports.
    let tar = berthd.dir().join("empty.tar");
    std::fs::write(&tar, vec![0u8; 1024]).unwrap();
    docker_ok(&host, &["import", tar.to_str().unwrap(), "empty:1"]);
}
