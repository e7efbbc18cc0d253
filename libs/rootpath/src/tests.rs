//! The attacks a hostile tree can make on a host that reads or writes in it: absolute
//! symlinks, `..` chains, links to the host's files, FIFOs, huge files.

use std::fs;
use std::os::unix::fs::symlink;

use super::*;

/// A root with a symlink farm, and a host directory outside it holding a "secret".
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    host: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let host = dir.path().join("host");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("secret"), "host secret\n").unwrap();
    fs::write(root.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    Fixture {
        _dir: dir,
        root,
        host,
    }
}

#[test]
fn reads_a_plain_file_and_reports_a_missing_one() {
    let f = fixture();
    let r = InRoot::open(&f.root).unwrap();
    assert_eq!(
        r.read_bounded("/etc/passwd", 1024).unwrap().unwrap(),
        b"root:x:0:0::/root:/bin/sh\n"
    );
    assert_eq!(
        r.read_bounded("etc/passwd", 1024).unwrap().unwrap().len(),
        26
    );
    assert!(r.read_bounded("/etc/nothing", 1024).unwrap().is_none());
    assert!(r.read_bounded("/nodir/nothing", 1024).unwrap().is_none());
    assert!(
        r.read_bounded("/etc/passwd/below", 1024).unwrap().is_none(),
        "a file on the way reads as missing"
    );
}

#[test]
fn an_absolute_link_to_the_host_stays_inside() {
    let f = fixture();
    symlink(f.host.join("secret"), f.root.join("etc/abs")).unwrap();
    let r = InRoot::open(&f.root).unwrap();
    assert!(
        r.read_bounded("/etc/abs", 1024).unwrap().is_none(),
        "the host's file is not seen"
    );
    // The same target inside the root is what the link names.
    let inside = f.root.join(f.host.strip_prefix("/").unwrap());
    fs::create_dir_all(&inside).unwrap();
    fs::write(inside.join("secret"), "root's own\n").unwrap();
    assert_eq!(
        r.read_bounded("/etc/abs", 1024).unwrap().unwrap(),
        b"root's own\n"
    );
}

#[test]
fn dot_dot_links_cannot_climb_out() {
    let f = fixture();
    let depth = f.root.components().count() + 3;
    let climb = "../".repeat(depth);
    let host_rel = f.host.join("secret");
    let target = format!("{climb}{}", host_rel.strip_prefix("/").unwrap().display());
    symlink(&target, f.root.join("etc/rel")).unwrap();
    let r = InRoot::open(&f.root).unwrap();
    assert!(r.read_bounded("/etc/rel", 1024).unwrap().is_none());
    let direct = format!("/{climb}etc/passwd");
    assert_eq!(
        r.read_bounded(&direct, 1024).unwrap().unwrap(),
        b"root:x:0:0::/root:/bin/sh\n",
        "`..` in the asked path stops at the root too"
    );
}

#[test]
fn a_directory_link_to_the_hosts_etc_never_reads_the_hosts_files() {
    // The image's /etc is a symlink to /etc: a host-side join would read the host's
    // passwd; inside the root the link points at itself.
    let dir = tempfile::tempdir().unwrap();
    symlink("/etc", dir.path().join("etc")).unwrap();
    assert!(Path::new("/etc/passwd").exists(), "the host has a passwd");
    let err = read_file_bounded(dir.path(), "/etc/passwd", 1 << 20).unwrap_err();
    assert!(
        err.reason().contains("Too many levels of symbolic links"),
        "{}",
        err.reason()
    );
    assert!(err.to_string().contains("/etc/passwd"), "{err}");
    // Other ways to the host's /etc land on the root's, which has none.
    let dir = tempfile::tempdir().unwrap();
    symlink("/usr/../etc/", dir.path().join("etc2")).unwrap();
    symlink("../../../../../../../../../etc", dir.path().join("etc3")).unwrap();
    fs::create_dir(dir.path().join("usr")).unwrap();
    for p in ["/etc2/passwd", "/etc3/passwd", "/usr/../../../etc/passwd"] {
        assert!(
            read_file_bounded(dir.path(), p, 1 << 20)
                .unwrap_or_else(|e| panic!("{p}: {e}"))
                .is_none(),
            "{p}"
        );
    }
}

#[test]
fn large_files_and_non_files_are_refused() {
    let f = fixture();
    fs::write(f.root.join("etc/big"), vec![b'x'; 4097]).unwrap();
    nix::unistd::mkfifo(
        &f.root.join("etc/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    symlink("fifo", f.root.join("etc/to-fifo")).unwrap();
    let r = InRoot::open(&f.root).unwrap();
    let err = r.read_bounded("/etc/big", 4096).unwrap_err().to_string();
    assert!(err.contains("larger than 4096 bytes"), "{err}");
    assert_eq!(
        r.read_bounded("/etc/big", 4097).unwrap().unwrap().len(),
        4097
    );
    for p in ["/etc/fifo", "/etc/to-fifo", "/etc"] {
        let err = r.read_bounded(p, 4096).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{p}: {err}");
    }
}

#[test]
fn open_dir_resolves_inside() {
    let f = fixture();
    symlink(&f.host, f.root.join("data")).unwrap();
    let r = InRoot::open(&f.root).unwrap();
    assert!(r.open_dir("/data").unwrap().is_none(), "no host directory");
    assert!(
        r.open_dir("/etc/passwd").unwrap().is_none(),
        "not a directory"
    );
    assert!(r.open_dir("/etc").unwrap().is_some());
}

#[test]
fn ensure_file_creates_inside_and_follows_links_inside() {
    let f = fixture();
    let r = InRoot::open(&f.root).unwrap();
    // Missing file and directories: created.
    r.ensure_file("/new/dir/hosts").unwrap();
    assert!(f.root.join("new/dir/hosts").is_file());
    // An existing file is left alone.
    r.ensure_file("/etc/passwd").unwrap();
    assert_eq!(fs::read(f.root.join("etc/passwd")).unwrap().len(), 26);
    // A dangling absolute link to a host path: the file appears at that path inside
    // the root, the host's is untouched and nothing appears on the host.
    let host_target = f.host.join("hostname");
    symlink(&host_target, f.root.join("etc/hostname")).unwrap();
    r.ensure_file("/etc/hostname").unwrap();
    assert!(!host_target.exists(), "nothing created on the host");
    let inside = f.root.join(host_target.strip_prefix("/").unwrap());
    assert!(inside.is_file(), "created inside the root");
    // A link to an existing host file: the host file is not touched.
    symlink(f.host.join("secret"), f.root.join("etc/hosts")).unwrap();
    r.ensure_file("/etc/hosts").unwrap();
    assert_eq!(
        fs::read_to_string(f.host.join("secret")).unwrap(),
        "host secret\n"
    );
    // A relative chain with `..` past the root.
    symlink(
        "../../../../../../../../resolv",
        f.root.join("etc/resolv.conf"),
    )
    .unwrap();
    r.ensure_file("/etc/resolv.conf").unwrap();
    assert!(f.root.join("resolv").is_file());
    // A loop ends in an error, not a hang.
    symlink("loop2", f.root.join("etc/loop1")).unwrap();
    symlink("loop1", f.root.join("etc/loop2")).unwrap();
    assert!(r.ensure_file("/etc/loop1").is_err());
    // A dangling directory link on the way: its target is made inside the root.
    symlink("/proc/self/root/etc", f.root.join("etc2")).unwrap();
    r.ensure_file("/etc2/hosts").unwrap();
    assert!(f.root.join("proc/self/root/etc/hosts").is_file());
    // A directory linked to itself, as an image's `/etc -> /etc`.
    let dir = tempfile::tempdir().unwrap();
    symlink("/etc", dir.path().join("etc")).unwrap();
    let err = InRoot::open(dir.path())
        .unwrap()
        .ensure_file("/etc/hostname")
        .unwrap_err();
    assert_eq!(err.reason(), "too many levels of symbolic links");
}
