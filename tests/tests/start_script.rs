//! The README's start command, `scripts/start`, run as written on a clean copy of the
//! repository (the tracked files of this checkout, no `target/`), proven by running a
//! container through the berthd it starts. Needs root, cargo, and what the script
//! installs itself when missing (gcc, libseccomp-dev, iptables: the test command has them
//! already).
//!
//! The build cache is reused: the copy builds into `target/start-script/` of this
//! workspace, which later runs find warm. The copy's release profile is built at the dev
//! profile's optimisation (through cargo's `CARGO_PROFILE_RELEASE_*` variables, which the
//! script does not touch): what this test proves is what the script does (installs,
//! builds every binary berthd needs, starts berthd with the arguments it was given), not
//! how fast optimised code runs, and a cold optimised build would cost CI's two cores
//! about 19 minutes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_testkit::{Berthd, docker, printed};

/// A cold build of berthd and the runner's binaries on two busy cores, with room to spare.
const BUILD_AND_START: Duration = Duration::from_secs(25 * 60);

/// The workspace this test was built from.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// `target/` of the running test (`target/<profile>/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.ancestors()
        .nth(3)
        .expect("test executable under target/<profile>/deps")
        .to_path_buf()
}

/// Copies the files git tracks (as they are in the work tree, so uncommitted edits are
/// tested too) into `to`: what a fresh clone holds, without build output.
fn copy_tracked_files(from: &Path, to: &Path) {
    let out = Command::new("git")
        .arg("-C")
        .arg(from)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .expect("run git ls-files");
    assert!(out.status.success(), "git ls-files: {}", printed(&out));
    let mut copied = 0;
    for name in out.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = Path::new(std::str::from_utf8(name).expect("UTF-8 file names"));
        let (src, dst) = (from.join(name), to.join(name));
        let Ok(meta) = std::fs::symlink_metadata(&src) else {
            continue; // deleted in the work tree, not yet committed
        };
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else {
            // fs::copy keeps the mode: scripts stay executable.
            std::fs::copy(&src, &dst).unwrap();
        }
        copied += 1;
    }
    assert!(
        copied > 100,
        "only {copied} tracked files found in {from:?}"
    );
}

#[test]
fn the_readme_start_command_gives_an_engine_that_runs_containers() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    assert!(
        readme.contains("```sh\nscripts/start\n```"),
        "the README's start command is no longer `scripts/start`: update this test"
    );

    let clone = tempfile::Builder::new()
        .prefix("berth-clone-")
        .tempdir()
        .unwrap();
    let repo = clone.path().join("berth");
    copy_tracked_files(&workspace(), &repo);
    assert!(!repo.join("target").exists());

    let build_dir = target_dir().join("start-script");
    let build_dir_text = build_dir.display().to_string();
    let berthd = Berthd::start_through(
        &repo.join("scripts/start"),
        &[
            ("CARGO_TARGET_DIR", build_dir_text.as_str()),
            ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
            ("CARGO_PROFILE_RELEASE_LTO", "false"),
            ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256"),
            ("CARGO_PROFILE_RELEASE_INCREMENTAL", "false"),
        ],
        BUILD_AND_START,
    );

    // The script built every binary berthd needs, side by side.
    for bin in ["berthd", "berth-monitor", "berth-spawn"] {
        assert!(
            build_dir.join("release").join(bin).is_file(),
            "scripts/start did not build {bin}"
        );
    }
    // The berthd that answers is the one the script built.
    let exe = std::fs::read_link(format!("/proc/{}/exe", berthd.process.pid())).unwrap();
    assert_eq!(exe, build_dir.join("release/berthd"));

    berthd.load_busybox();
    let out = docker(
        &berthd.docker_host(),
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo started by scripts/start",
        ],
    );
    assert!(
        out.status.success(),
        "docker run failed:\n{}",
        printed(&out)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "started by scripts/start\n"
    );
}
