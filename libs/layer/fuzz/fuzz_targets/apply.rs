//! Fuzz target: any byte stream given to `apply` (plain, gzip or zstd, OCI or overlay
//! whiteouts, devices on or off) must not panic and must not change anything outside
//! the target directory. Run with `cargo +nightly fuzz run apply` in libs/layer/fuzz.
#![no_main]

use std::fs;
use std::path::Path;

use berth_layer::{ApplyOptions, Limits, WhiteoutFormat, apply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, layer)) = data.split_first() else {
        return;
    };
    let sandbox = tempfile::tempdir().expect("temp dir");
    let target = sandbox.path().join("target");
    let canary = sandbox.path().join("canary");
    fs::create_dir(&target).expect("target");
    fs::create_dir(&canary).expect("canary");
    fs::write(canary.join("keep"), b"canary").expect("canary file");

    let opts = ApplyOptions {
        whiteout_format: if flags & 1 == 0 {
            WhiteoutFormat::Oci
        } else {
            WhiteoutFormat::Overlay
        },
        allow_devices: flags & 2 != 0,
        sync: false,
        limits: Limits {
            max_total_bytes: 4 << 20,
            max_entries: 1000,
            ..Limits::default()
        },
        ..ApplyOptions::default()
    };
    let _ = apply(layer, &target, &opts);

    let mut outside: Vec<_> = fs::read_dir(sandbox.path())
        .expect("list sandbox")
        .map(|e| e.expect("entry").file_name())
        .collect();
    outside.sort();
    assert_eq!(
        outside,
        ["canary", "target"],
        "something appeared next to the target"
    );
    assert_eq!(only_child(&canary), "keep", "the canary changed");
    assert_eq!(fs::read(canary.join("keep")).expect("canary"), b"canary");
});

fn only_child(dir: &Path) -> String {
    let names: Vec<_> = fs::read_dir(dir)
        .expect("list canary")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "the canary changed: {names:?}");
    names.into_iter().next().unwrap_or_default()
}
