//! berth compiles each distinct seccomp profile once: the first container of a profile
//! stores the program libseccomp generated in the runtime root's `.seccomp/`, and later
//! containers and execs load that program instead of compiling again. Through the real
//! docker CLI against berthd; needs root and Debian's busybox-static.

use std::path::{Path, PathBuf};

use berth_testkit::{Berthd, docker, docker_ok, printed};

/// The `.seccomp` directory somewhere under `dir` (the runner's runtime root).
fn find_cache(dir: &Path) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if entry.file_name() == ".seccomp" {
            return Some(path);
        }
        if let Some(found) = find_cache(&path) {
            return Some(found);
        }
    }
    None
}

fn programs(cache: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bpf"))
        .collect();
    files.sort();
    files
}

/// A classic BPF seccomp program: `mkdir` and `mkdirat` fail with EACCES, everything else
/// is allowed.
fn deny_mkdir() -> Vec<u8> {
    const LD_W_ABS: u16 = 0x20;
    const JMP_JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    let insn = |code: u16, jt: u8, jf: u8, k: u32| {
        let mut b = code.to_ne_bytes().to_vec();
        b.extend([jt, jf]);
        b.extend(k.to_ne_bytes());
        b
    };
    [
        insn(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        insn(JMP_JEQ_K, 1, 0, nix::libc::SYS_mkdir as u32),
        insn(JMP_JEQ_K, 0, 1, nix::libc::SYS_mkdirat as u32),
        insn(RET_K, 0, 0, 0x0005_0000 | nix::libc::EACCES as u32),
        insn(RET_K, 0, 0, 0x7fff_0000),
    ]
    .concat()
}

#[test]
fn each_profile_is_compiled_once_and_its_program_reused() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    assert!(
        find_cache(&berthd.data_root()).is_none_or(|c| programs(&c).is_empty()),
        "no container ran yet"
    );

    // The first container of the default profile compiles it and stores the program.
    let out = docker(
        &host,
        &[
            "run",
            "--rm",
            "busybox",
            "grep",
            "Seccomp:",
            "/proc/self/status",
        ],
    );
    assert!(out.status.success(), "{}", printed(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1),
        Some("2")
    );
    let cache = find_cache(&berthd.data_root()).expect("a .seccomp directory");
    let stored = programs(&cache);
    assert_eq!(stored.len(), 1, "{stored:?}");
    let default_program = std::fs::read(&stored[0]).unwrap();
    assert_eq!(default_program.len() % 8, 0);
    assert!(
        default_program.len() / 8 > 100,
        "Docker's profile is hundreds of instructions"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache), 0o700);
    assert_eq!(mode(&stored[0]), 0o600);

    // Later containers load the stored program, not a new compilation: a different
    // program in its place is what they get, in `run` and in `exec`.
    std::fs::write(&stored[0], deny_mkdir()).unwrap();
    let out = docker(&host, &["run", "--rm", "busybox", "mkdir", "/tmp/d"]);
    assert!(!out.status.success(), "mkdir ran: {}", printed(&out));
    assert!(
        printed(&out).contains("Permission denied"),
        "{}",
        printed(&out)
    );
    let id = docker_ok(&host, &["run", "-d", "busybox", "sleep", "300"]);
    let out = docker(&host, &["exec", &id, "mkdir", "/tmp/e"]);
    assert!(
        !out.status.success(),
        "mkdir ran in exec: {}",
        printed(&out)
    );
    docker_ok(&host, &["rm", "-f", &id]);

    // A file that is no program is dropped and the profile compiled again, to the same
    // program as the first time.
    std::fs::write(&stored[0], b"junk!").unwrap();
    let out = docker(&host, &["run", "--rm", "busybox", "mkdir", "/tmp/d"]);
    assert!(out.status.success(), "{}", printed(&out));
    assert_eq!(std::fs::read(&stored[0]).unwrap(), default_program);

    // Another profile gets a program of its own, and is enforced.
    let opt = berthd.no_mkdir_seccomp_profile();
    for _ in 0..2 {
        let out = docker(
            &host,
            &[
                "run",
                "--rm",
                "--security-opt",
                &opt,
                "busybox",
                "mkdir",
                "/tmp/d",
            ],
        );
        assert!(
            printed(&out).contains("Permission denied"),
            "{}",
            printed(&out)
        );
    }
    assert_eq!(programs(&cache).len(), 2, "{:?}", programs(&cache));
}
