//! Issue #9, finding 8: what a container or an image can make berthd hold. Each test
//! runs the attack against a real berthd: a huge log read with `--tail`, a log that
//! would fill the disk without rotation, a gzip bomb layer, layers left behind by `rmi`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_oci::{ExportImage, MemoryBlobs, Reference, write_archive};
use berth_testkit::{Berthd, docker, docker_fails, docker_ok, eventually, printed};
use serde_json::json;

/// The pid of the berthd serving `berthd`: the one whose command line names its
/// directory (tests run side by side, each with its own).
fn berthd_pid(berthd: &Berthd) -> u32 {
    let dir = berthd.dir().to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.first()
                .is_some_and(|a| a.ends_with(b"/berthd") || *a == b"berthd")
                && args
                    .iter()
                    .any(|a| String::from_utf8_lossy(a).starts_with(&dir))
        })
        .expect("berthd's process")
}

/// A `VmXXX:` line of /proc/<pid>/status, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

fn log_path(host: &str, id: &str) -> PathBuf {
    PathBuf::from(docker_ok(host, &["inspect", "-f", "{{.LogPath}}", id]))
}

#[test]
fn logs_tail_of_a_huge_log_reads_only_the_tail() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    // ~60 MB of json-file log: 500,000 lines of ~100 bytes, plus the JSON around them.
    let line = "x".repeat(90);
    let id = docker_ok(
        &host,
        &[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            &format!("yes {line} | head -n 500000; echo the-last-line"),
        ],
    );
    assert_eq!(docker_ok(&host, &["wait", &id]), "0");
    let size = std::fs::metadata(log_path(&host, &id)).unwrap().len();
    assert!(size > 50 << 20, "the log is only {size} bytes");

    let pid = berthd_pid(&berthd);
    // Resets the peak (VmHWM) to the current RSS, so the peak after is what the logs
    // call itself needed.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let before = status_kib(pid, "VmRSS:");
    let out = docker_ok(&host, &["logs", "--tail", "1", &id]);
    assert_eq!(out, "the-last-line");
    let peak = status_kib(pid, "VmHWM:");
    let growth_mib = peak.saturating_sub(before) / 1024;
    assert!(
        growth_mib < 20,
        "docker logs --tail 1 of a {} MB log made berthd grow by {growth_mib} MiB",
        size >> 20
    );
    let out = docker_ok(&host, &["logs", "--tail", "3", &id]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [&line, &line, "the-last-line"]
    );
}

#[test]
fn json_file_rotation_bounds_the_log_and_logs_reads_across_files() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    // ~3 MB of log through a 100 kB x 3 files budget (json-file's max-size is decimal).
    let script = "i=0; while [ $i -lt 30000 ]; do echo line-$i-yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy; i=$((i+1)); done";
    let id = docker_ok(
        &host,
        &[
            "run",
            "-d",
            "--log-opt",
            "max-size=100k",
            "--log-opt",
            "max-file=3",
            "busybox",
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(docker_ok(&host, &["wait", &id]), "0");
    let log = log_path(&host, &id);
    let dir = log.parent().unwrap();
    let name = log.file_name().unwrap().to_string_lossy().into_owned();
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    files.sort();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [name.clone(), format!("{name}.1"), format!("{name}.2")],
        "max-file=3 keeps three files"
    );
    for (file, len) in &files {
        assert!(*len <= 100_000 + 200, "{file} is {len} bytes");
    }
    let tail = docker_ok(&host, &["logs", "--tail", "2", &id]);
    assert_eq!(
        tail.lines().collect::<Vec<_>>(),
        [
            "line-29998-yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
            "line-29999-yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
        ]
    );
    // All of what is kept, oldest file first, in order and without gaps.
    let all = docker_ok(&host, &["logs", &id]);
    let numbers: Vec<u32> = all
        .lines()
        .map(|l| l.split('-').nth(1).unwrap().parse().unwrap())
        .collect();
    // Three files of 100 kB of ~125-byte entries.
    assert!(numbers.len() > 2000, "only {} lines kept", numbers.len());
    assert!(numbers[0] > 0, "the oldest lines were rotated away");
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "a gap or a reorder"
    );
    assert_eq!(*numbers.last().unwrap(), 29999);

    // What berth cannot honour is refused, not ignored.
    for args in [
        &["--log-driver", "syslog"][..],
        &["--log-opt", "max-size=lots"],
        &["--log-opt", "max-file=0"],
        &["--log-opt", "compress=true"],
        &["--log-opt", "labels=a"],
        &["--log-opt", "no-such-option=1"],
    ] {
        let mut run = vec!["create"];
        run.extend_from_slice(args);
        run.extend(["busybox", "true"]);
        let out = docker_fails(&host, &run);
        assert!(out.contains("log"), "{args:?}: {out}");
    }
}

/// A one-layer image whose layer is `zeros` bytes of zeros in one file, gzipped, with
/// Debian's static busybox as `/busybox` so that it can run (`/busybox true`).
fn gzip_bomb_archive(dir: &Path, zeros: usize, tag: &str) -> (PathBuf, u64) {
    let mut builder = tar::Builder::new(Vec::new());
    let busybox = std::fs::read("/bin/busybox").expect("apt-get install busybox-static");
    let mut header = tar::Header::new_ustar();
    header.set_size(busybox.len() as u64);
    header.set_mode(0o755);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, "busybox", busybox.as_slice())
        .unwrap();
    let mut header = tar::Header::new_ustar();
    header.set_size(zeros as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(
            &mut header,
            "zeros",
            std::io::Read::take(std::io::repeat(0), zeros as u64),
        )
        .unwrap();
    let tar = builder.into_inner().unwrap();
    let raw = dir.join("bomb.tar");
    std::fs::write(&raw, &tar).unwrap();
    let gz = Command::new("gzip")
        .args(["-9", "-c", "-n"])
        .arg(&raw)
        .output()
        .unwrap();
    assert!(gz.status.success());
    let layer = gz.stdout;
    let mut blobs = MemoryBlobs::new();
    let l = blobs.insert(layer.clone());
    let config = serde_json::to_vec(&json!({
        "architecture": berth_oci::Platform::host().architecture, "os": "linux",
        "config": {"Cmd": ["/busybox", "true"]},
        "rootfs": {"type": "layers", "diff_ids": [berth_oci::Digest::of(&tar).to_string()]},
    }))
    .unwrap();
    let config_len = config.len();
    let c = blobs.insert(config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c.to_string(), "size": config_len},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": l.to_string(), "size": layer.len()}],
    }))
    .unwrap();
    let descriptor =
        berth_oci::manifest::descriptor_of("application/vnd.oci.image.manifest.v1+json", &manifest);
    blobs.insert(manifest);
    let image = ExportImage {
        manifest: descriptor,
        names: vec![Reference::parse(tag).unwrap()],
    };
    let archive = write_archive(Vec::new(), &[image], &mut blobs).unwrap();
    let path = dir.join("bomb-image.tar");
    std::fs::write(&path, archive).unwrap();
    (path, layer.len() as u64)
}

/// Bytes under `dir`, not following links.
fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                disk_usage(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

#[test]
fn a_gzip_bomb_layer_is_refused_before_it_fills_the_disk() {
    // Ratio 10 and a 1 MiB floor (defaults: 100 and 1 GiB, which a test cannot afford
    // to fill): the layer's 64 MiB of zeros beside busybox gzip to ~1 MiB, so it may
    // unpack to ~10 MiB at most.
    let berthd = Berthd::start_with(&["--layer-max-expansion", "10", "--layer-unpack-floor", "1m"]);
    let host = berthd.docker_host();
    let (archive, compressed) = gzip_bomb_archive(berthd.dir(), 64 << 20, "bomb:1");
    assert!(compressed < 2 << 20, "the bomb is {compressed} bytes");
    docker_ok(&host, &["load", "-i", archive.to_str().unwrap()]);
    let out = docker_fails(&host, &["run", "--rm", "bomb:1"]);
    assert!(out.contains("decompression bomb"), "{out}");
    let snapshots = berthd.data_root().join("runner/snapshots");
    let used = disk_usage(&snapshots);
    assert!(
        used < 1 << 20,
        "the refused layer left {used} bytes in {}",
        snapshots.display()
    );
    assert!(
        docker_ok(&host, &["ps", "-aq"]).is_empty(),
        "no container was made"
    );
}

/// The chain directories (64 hex) under the runner's snapshots.
fn snapshot_dirs(berthd: &Berthd) -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(berthd.data_root().join("runner/snapshots"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.len() == 64)
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

#[test]
fn rmi_removes_the_unpacked_layers_nothing_uses() {
    let berthd = Berthd::with_busybox();
    let host = berthd.docker_host();
    let (archive, _) = gzip_bomb_archive(berthd.dir(), 1 << 20, "zeros:1");
    docker_ok(&host, &["load", "-i", archive.to_str().unwrap()]);

    let kept = docker_ok(&host, &["run", "-d", "busybox", "sleep", "600"]);
    // A create unpacks the image's layers; the container goes at once.
    docker_ok(&host, &["create", "--name", "gone", "zeros:1"]);
    docker_ok(&host, &["rm", "gone"]);
    let before = snapshot_dirs(&berthd);
    assert_eq!(before.len(), 2, "busybox's and zeros' layers: {before:?}");

    // The image that goes takes its snapshot along; busybox's stays while its image
    // is there, even with no container on it.
    docker_ok(&host, &["rm", "-f", &kept]);
    docker_ok(&host, &["rmi", "zeros:1"]);
    let left = eventually(
        "the unused snapshot is removed",
        Duration::from_secs(20),
        || {
            let now = snapshot_dirs(&berthd);
            (now.len() == 1).then_some(now)
        },
    );
    assert!(before.contains(&left[0]));

    // A container keeps its snapshot even once its image is forced away.
    let c = docker_ok(&host, &["create", "busybox", "true"]);
    let out = docker(&host, &["rmi", "-f", "busybox"]);
    assert!(out.status.success(), "{}", printed(&out));
    // Another image comes and goes: its removal sweeps again, and takes only its own.
    let (archive, _) = gzip_bomb_archive(berthd.dir(), 2 << 10, "other:1");
    docker_ok(&host, &["load", "-i", archive.to_str().unwrap()]);
    docker_ok(&host, &["create", "--name", "other", "other:1"]);
    docker_ok(&host, &["rm", "other"]);
    assert_eq!(snapshot_dirs(&berthd).len(), 2);
    docker_ok(&host, &["rmi", "other:1"]);
    eventually(
        "the other image's snapshot is removed",
        Duration::from_secs(20),
        || (snapshot_dirs(&berthd) == left).then_some(()),
    );
    docker_ok(&host, &["start", "-a", &c]);
    // Once the last container of the forced-away image goes, its snapshot goes too,
    // without waiting for another image deletion or a restart.
    assert_eq!(snapshot_dirs(&berthd), left);
    docker_ok(&host, &["rm", &c]);
    eventually(
        "the snapshot of a forced-away image goes with its last container",
        Duration::from_secs(20),
        || snapshot_dirs(&berthd).is_empty().then_some(()),
    );
}

#[test]
fn a_load_cut_short_by_a_crash_leaves_no_partial_upload() {
    let mut berthd = Berthd::start();
    let host = berthd.docker_host();
    let image = berth_testkit::busybox_archive(berthd.dir(), "busybox:latest");
    let archive = std::fs::read(&image.path).unwrap();
    let mut load = berth_testkit::docker_command(&host)
        .arg("load")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = load.stdin.take().unwrap();
    // Half the archive, then nothing: the load is mid-layer when berthd dies.
    std::io::Write::write_all(&mut stdin, &archive[..archive.len() / 2]).unwrap();
    let ingest = berthd.data_root().join("image-store/ingest");
    let partial = |min: u64| {
        std::fs::read_dir(&ingest)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("tmp-"))
            .filter(|e| disk_usage(&e.path()) >= min)
            .count()
    };
    eventually("the load is partly stored", Duration::from_secs(20), || {
        (partial(64 << 10) > 0).then_some(())
    });
    berthd.crash_and_restart();
    drop(stdin);
    let _ = load.wait();
    assert_eq!(partial(0), 0, "a partial upload outlived the crash");
    assert!(docker_ok(&host, &["images", "-q"]).is_empty());
}

#[test]
fn the_daemons_log_opts_bound_containers_that_set_none() {
    let berthd = Berthd::start_with(&["--log-opt", "max-size=20k", "--log-opt", "max-file=2"]);
    let host = berthd.docker_host();
    let image = berth_testkit::busybox_archive(berthd.dir(), "busybox:latest");
    docker_ok(&host, &["load", "-i", image.path.to_str().unwrap()]);
    let id = docker_ok(
        &host,
        &[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "i=0; while [ $i -lt 5000 ]; do echo line-$i; i=$((i+1)); done",
        ],
    );
    assert_eq!(docker_ok(&host, &["wait", &id]), "0");
    let log = log_path(&host, &id);
    let dir = log.parent().unwrap();
    let name = log.file_name().unwrap().to_string_lossy().into_owned();
    let total: u64 = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(total <= 2 * (20 * 1024 + 200), "{total} bytes of log kept");
    assert_eq!(docker_ok(&host, &["logs", "--tail", "1", &id]), "line-4999");
}
