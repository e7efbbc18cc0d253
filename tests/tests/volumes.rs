//! Volumes and mounts through the real docker CLI against berthd: `docker volume
//! create/ls/inspect/rm/prune`, `-v` with names and host paths, `--mount` of each type,
//! `--tmpfs`, filling a new volume from the image, in-use rules, `rm -v`, and volumes
//! across a berthd crash. Needs root, the docker CLI, curl and Debian's busybox-static.

use std::path::PathBuf;
use std::process::Command;

use berth_testkit::{Berthd, docker_fails, docker_ok, require_tool};

/// `docker ARGS`, split at spaces: no argument in these tests has one of its own.
fn ok(host: &str, args: &str) -> String {
    docker_ok(host, &args.split(' ').collect::<Vec<_>>())
}

fn fails(host: &str, args: &str) -> String {
    docker_fails(host, &args.split(' ').collect::<Vec<_>>())
}

/// Where berthd's runner keeps a volume's content (Docker's layout below its data root).
fn volume_data(berthd: &Berthd, name: &str) -> PathBuf {
    berthd
        .data_root()
        .join("runner/volumes")
        .join(name)
        .join("_data")
}

fn volume_names(host: &str) -> Vec<String> {
    let mut names: Vec<String> = ok(host, "volume ls -q")
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

/// The names of a container's volumes, from inspect's Mounts.
fn mounted_volumes(host: &str, container: &str) -> Vec<String> {
    let format = "{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Name}} {{end}}{{end}}";
    docker_ok(host, &["inspect", container, "--format", format])
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn volume_create_ls_inspect_rm() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    assert_eq!(ok(&host, "volume create --label team=a data"), "data");
    assert_eq!(
        ok(&host, "volume create data"),
        "data",
        "creating an existing volume returns it, as Docker does"
    );
    ok(&host, "volume create other");
    assert_eq!(volume_names(&host), ["data", "other"]);
    assert_eq!(ok(&host, "volume ls -q --filter label=team=a"), "data");
    assert_eq!(ok(&host, "volume ls -q --filter name=oth"), "other");
    assert_eq!(ok(&host, "volume ls -q --filter dangling=false"), "");
    let format = "{{.Driver}} {{.Scope}} {{.Mountpoint}} {{.Labels.team}}";
    let mountpoint = volume_data(&berthd, "data");
    assert_eq!(
        docker_ok(&host, &["volume", "inspect", "data", "--format", format]),
        format!("local local {} a", mountpoint.display())
    );
    assert!(mountpoint.is_dir(), "Docker's layout on disk");

    ok(&host, "volume rm data");
    assert!(!mountpoint.exists(), "the content went with the volume");
    assert!(fails(&host, "volume inspect data").contains("no such volume"));
    assert!(fails(&host, "volume rm data").contains("no such volume"));
    ok(&host, "volume rm -f data");
    assert_eq!(volume_names(&host), ["other"]);
}

#[test]
fn bad_volume_requests_are_refused_and_change_nothing() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    for hostile in ["../x", "a/b", "..", "_x"] {
        let said = fails(&host, &format!("volume create {hostile}"));
        assert!(said.contains("invalid characters"), "{hostile}: {said}");
    }
    let said = fails(&host, "run --rm -v a/b:/x busybox true");
    assert!(said.contains("invalid characters"), "{said}");
    assert!(fails(&host, "volume create --driver nfs n").contains("\"local\""));
    assert!(fails(&host, "volume create --opt type=tmpfs n").contains("takes no options"));
    assert!(volume_names(&host).is_empty());
    let volumes_dir = berthd.data_root().join("runner/volumes");
    assert_eq!(std::fs::read_dir(&volumes_dir).unwrap().count(), 0);
    assert!(!berthd.data_root().join("x").exists());

    // A misspelt field is a 400, not a volume with a generated name.
    let out = Command::new(require_tool("curl", "curl"))
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--unix-socket",
        ])
        .arg(berthd.socket())
        .args(["-X", "POST", "-H", "Content-Type: application/json"])
        .args(["-d", r#"{"Nmae":"typo"}"#, "http://berth/volumes/create"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "400");
    assert!(volume_names(&host).is_empty());
}

#[test]
fn data_written_through_a_volume_is_read_by_the_next_container_and_after_a_crash() {
    let mut berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let write = ["run", "--rm", "-v", "shared:/data", "busybox"];
    docker_ok(
        &host,
        &[&write[..], &["sh", "-c", "echo hello > /data/f"]].concat(),
    );
    assert_eq!(volume_names(&host), ["shared"], "-v made the named volume");
    let read = "run --rm -v shared:/data busybox cat /data/f";
    assert_eq!(ok(&host, read), "hello");
    let mount = "run --rm --mount type=volume,src=shared,dst=/m,readonly busybox cat /m/f";
    assert_eq!(ok(&host, mount), "hello");

    berthd.crash_and_restart();
    assert_eq!(volume_names(&host), ["shared"]);
    assert_eq!(ok(&host, read), "hello");
}

#[test]
fn a_new_volume_starts_with_the_images_files_unless_nocopy() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let passwd = ok(&host, "run --rm -v etc:/etc busybox cat /etc/passwd");
    assert!(passwd.starts_with("root:x:0:0:"), "{passwd}");
    let on_disk = volume_data(&berthd, "etc").join("passwd");
    assert_eq!(std::fs::read_to_string(&on_disk).unwrap().trim(), passwd);

    // Not empty any more: a later container sees the volume, not the image.
    ok(&host, "run --rm -v etc:/etc busybox rm /etc/group");
    assert_eq!(ok(&host, "run --rm -v etc:/etc busybox ls /etc"), "passwd");

    assert_eq!(
        ok(&host, "run --rm -v bare:/etc:nocopy busybox ls -A /etc"),
        ""
    );
    let nocopy = "type=volume,src=bare2,dst=/etc,volume-nocopy";
    assert_eq!(
        ok(
            &host,
            &format!("run --rm --mount {nocopy} busybox ls -A /etc")
        ),
        ""
    );
    // Anonymous volumes are filled too.
    let group = ok(&host, "run --rm -v /etc busybox cat /etc/group");
    assert!(group.starts_with("root:x:0:"), "{group}");
}

#[test]
fn host_directories_bind_read_only_and_missing_sources_follow_docker() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let dir = berthd.dir().join("hostdir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("note"), "from the host").unwrap();
    let ro = format!("{}:/x:ro", dir.display());
    let run_ro = format!("run --rm -v {ro} busybox");
    assert_eq!(ok(&host, &format!("{run_ro} cat /x/note")), "from the host");
    let said = fails(&host, &format!("{run_ro} touch /x/new"));
    assert!(said.contains("Read-only file system"), "{said}");
    assert!(!dir.join("new").exists());

    ok(&host, &format!("create --name binder -v {ro} busybox"));
    let format = "{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.RW}} {{.Mode}}{{end}}";
    assert_eq!(
        docker_ok(&host, &["inspect", "binder", "--format", format]),
        format!("bind {} /x false ro", dir.display())
    );

    // -v makes a missing host directory; --mount refuses it, as Docker does.
    let made = berthd.dir().join("made/by/run");
    ok(
        &host,
        &format!("run --rm -v {}:/y busybox touch /y/ok", made.display()),
    );
    assert!(made.join("ok").is_file());
    let missing = berthd.dir().join("missing");
    let said = fails(
        &host,
        &format!(
            "run --rm --mount type=bind,src={},dst=/z busybox true",
            missing.display()
        ),
    );
    assert!(said.contains("bind source path does not exist"), "{said}");
    assert!(!missing.exists());

    let rw = format!("type=bind,src={},dst=/w", dir.display());
    ok(
        &host,
        &format!("run --rm --mount {rw} busybox touch /w/written"),
    );
    assert!(dir.join("written").exists());
}

#[test]
fn tmpfs_mounts_are_tmpfs_with_their_size() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let small = "run --rm --mount type=tmpfs,dst=/t,tmpfs-size=1m busybox";
    let mounts = ok(&host, &format!("{small} grep -w /t /proc/mounts"));
    assert!(mounts.starts_with("tmpfs /t tmpfs"), "{mounts}");
    assert!(mounts.contains("size=1024k"), "{mounts}");
    let said = fails(
        &host,
        &format!("{small} dd if=/dev/zero of=/t/big bs=1024 count=2048"),
    );
    assert!(said.contains("No space left on device"), "{said}");

    let mounts = ok(
        &host,
        "run --rm --tmpfs /t2 busybox grep -w /t2 /proc/mounts",
    );
    assert!(mounts.starts_with("tmpfs /t2 tmpfs"), "{mounts}");
    let ro = fails(
        &host,
        "run --rm --mount type=tmpfs,dst=/t,readonly busybox touch /t/x",
    );
    assert!(ro.contains("Read-only file system"), "{ro}");
}

#[test]
fn unsupported_mounts_are_refused_clearly() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let said = fails(
        &host,
        "run --rm --mount type=bind,src=/tmp,dst=/x,bind-recursive=disabled busybox true",
    );
    assert!(said.contains("bind-recursive=disabled"), "{said}");
    let said = fails(
        &host,
        "run --rm --mount type=volume,src=v,dst=/x,volume-driver=nfs busybox true",
    );
    assert!(said.contains("\"local\""), "{said}");
    let said = fails(
        &host,
        "run --rm -v /tmp:/x --mount type=tmpfs,dst=/x busybox true",
    );
    assert!(said.contains("Duplicate mount point: /x"), "{said}");
    assert!(
        volume_names(&host).is_empty(),
        "a refused create leaves no volume"
    );
}

#[test]
fn volumes_in_use_cannot_be_removed() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    ok(&host, "run --rm -v busy:/data busybox touch /data/kept");
    let id = ok(&host, "create -v busy:/data busybox");
    for rm in ["volume rm busy", "volume rm -f busy"] {
        let said = fails(&host, rm);
        assert!(said.contains("volume is in use"), "{said}");
        assert!(said.contains(&id), "names the user: {said}");
    }
    assert!(ok(&host, "volume prune -af").contains("Total reclaimed space: 0B"));
    assert_eq!(volume_names(&host), ["busy"]);
    assert!(volume_data(&berthd, "busy").join("kept").exists());
    assert_eq!(ok(&host, "volume ls -q --filter dangling=true"), "");
    ok(&host, &format!("rm {id}"));
    ok(&host, "volume rm busy");
    assert!(volume_names(&host).is_empty());
}

#[test]
fn rm_v_and_rm_take_anonymous_volumes_and_prune_takes_the_rest() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    ok(&host, "create --name c1 -v /anon -v named:/named busybox");
    let mounted = mounted_volumes(&host, "c1");
    let anon = mounted.iter().find(|n| *n != "named").unwrap().clone();
    assert_eq!(anon.len(), 64);
    let mut both = vec![anon.clone(), "named".to_owned()];
    both.sort();
    assert_eq!(volume_names(&host), both);
    ok(&host, "rm -v c1");
    assert_eq!(
        volume_names(&host),
        ["named"],
        "rm -v took the anonymous volume only"
    );

    ok(&host, "run --rm -v /gone busybox true");
    assert_eq!(
        volume_names(&host),
        ["named"],
        "--rm took its anonymous volume"
    );

    // Without -v the anonymous volume stays until a prune, which (API 1.42+) takes
    // anonymous volumes only unless told --all.
    ok(&host, "create --name c2 -v /left busybox");
    let left = mounted_volumes(&host, "c2")[0].clone();
    ok(&host, "rm c2");
    assert!(volume_names(&host).contains(&left));
    let pruned = ok(&host, "volume prune -f");
    assert!(pruned.contains(&left), "{pruned}");
    assert_eq!(volume_names(&host), ["named"]);
    assert!(ok(&host, "volume prune -af").contains("named"));
    assert!(volume_names(&host).is_empty());
}

#[test]
fn an_images_volumes_become_anonymous_volumes_filled_from_the_image() {
    let berthd = Berthd::start();
    let host = berthd.docker_host();
    let rootfs = berthd.dir().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::create_dir_all(rootfs.join("data")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    std::fs::write(rootfs.join("data/seed"), "from the image").unwrap();
    let archive = berthd.dir().join("rootfs.tar");
    let tarred = Command::new(require_tool("tar", "tar"))
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&archive)
        .arg(".")
        .status()
        .unwrap();
    assert!(tarred.success());
    let archive = archive.to_str().unwrap();
    docker_ok(
        &host,
        &["import", archive, "withvol:1", "--change", "VOLUME /data"],
    );

    ok(&host, "create --name iv withvol:1 /bin/busybox true");
    let anon = mounted_volumes(&host, "iv");
    assert_eq!(anon.len(), 1, "{anon:?}");
    assert_eq!(anon[0].len(), 64);
    assert_eq!(
        std::fs::read_to_string(volume_data(&berthd, &anon[0]).join("seed")).unwrap(),
        "from the image"
    );
    // A user mount at the same path replaces the image's volume.
    ok(
        &host,
        "create --name named -v mine:/data withvol:1 /bin/busybox true",
    );
    assert_eq!(mounted_volumes(&host, "named"), ["mine"]);
    ok(&host, "rm -v iv named");
    assert_eq!(volume_names(&host), ["mine"]);
}
