//! Benchmark: berth's `apply` against GNU `tar -x` on the same ~100 MB layer.
//!
//! Run as root, in release mode: `cargo run --release -p berth-layer --example
//! bench_apply [rounds]`. The layer (many small files plus a few large ones) is built
//! once in a temp dir; each round extracts it into a fresh directory with each tool,
//! after a `sync` so neither pays for the other's writeback. Prints medians and the
//! ratio berth/tar for plain and gzip layers.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_layer::{ApplyOptions, Compression, DiffOptions, apply, diff};

const SMALL_DIRS: usize = 200;
const SMALL_PER_DIR: usize = 100;
const LARGE_FILES: usize = 5;
const LARGE_SIZE: usize = 10 << 20;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let work = tempfile::Builder::new()
        .prefix("berth-bench-")
        .tempdir()
        .expect("temp dir");
    let src = work.path().join("src");
    let bytes = generate_tree(&src);
    let plain = work.path().join("layer.tar");
    let gzip = work.path().join("layer.tar.gz");
    write_layer(&src, &plain, Compression::None);
    write_layer(&src, &gzip, Compression::Gzip);
    println!(
        "layer: {} files, {:.1} MB of content, tar {:.1} MB, tar.gz {:.1} MB",
        SMALL_DIRS * SMALL_PER_DIR + LARGE_FILES,
        bytes as f64 / 1e6,
        fs::metadata(&plain).unwrap().len() as f64 / 1e6,
        fs::metadata(&gzip).unwrap().len() as f64 / 1e6,
    );

    for (label, layer, tar_flag) in [("plain", &plain, "-xf"), ("gzip", &gzip, "-xzf")] {
        let mut berth = Vec::new();
        let mut gnu = Vec::new();
        let (mut berth_cpu, mut gnu_cpu) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let dir = fresh(work.path(), &format!("berth-{label}-{round}"));
            let cpu = cpu_time(libc::RUSAGE_SELF);
            berth.push(time(|| {
                let opts = ApplyOptions {
                    sync: false,
                    ..ApplyOptions::default()
                };
                apply(fs::File::open(layer).unwrap(), &dir, &opts).expect("apply");
            }));
            berth_cpu.push(cpu_time(libc::RUSAGE_SELF) - cpu);
            fs::remove_dir_all(&dir).unwrap();

            let dir = fresh(work.path(), &format!("tar-{label}-{round}"));
            let cpu = cpu_time(libc::RUSAGE_CHILDREN);
            gnu.push(time(|| {
                let status = Command::new("tar")
                    .arg(tar_flag)
                    .arg(layer)
                    .arg("-C")
                    .arg(&dir)
                    .status()
                    .expect("run tar");
                assert!(status.success());
            }));
            gnu_cpu.push(cpu_time(libc::RUSAGE_CHILDREN) - cpu);
            fs::remove_dir_all(&dir).unwrap();
        }
        let (b, t) = (median(&mut berth), median(&mut gnu));
        println!(
            "{label:>5}: berth apply median {:>7.1} ms | GNU tar {tar_flag} median {:>7.1} ms | \
             ratio berth/tar {:.2}x  (rounds: {rounds})",
            b.as_secs_f64() * 1e3,
            t.as_secs_f64() * 1e3,
            b.as_secs_f64() / t.as_secs_f64(),
        );
        let (bc, tc) = (median(&mut berth_cpu), median(&mut gnu_cpu));
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{label:>5}: CPU median user/sys: berth {:.0}/{:.0} ms | GNU tar (and its gzip) \
             {:.0}/{:.0} ms",
            ms(bc.user),
            ms(bc.system),
            ms(tc.user),
            ms(tc.system),
        );
    }

    // What durability costs: one apply_to_new_dir with syncfs and the rename.
    let dir = work.path().join("durable");
    sync();
    let synced = time(|| {
        berth_layer::apply_to_new_dir(
            fs::File::open(&plain).unwrap(),
            &dir,
            &ApplyOptions::default(),
        )
        .expect("apply_to_new_dir");
    });
    println!(
        "plain: apply_to_new_dir with sync {:.1} ms (one run)",
        synced.as_secs_f64() * 1e3
    );
}

/// A fresh, empty directory, with the page cache's dirty data flushed first.
fn fresh(base: &Path, name: &str) -> PathBuf {
    let dir = base.join(name);
    fs::create_dir(&dir).unwrap();
    sync();
    dir
}

fn sync() {
    Command::new("sync").status().expect("sync");
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// CPU time (user, system) of this process or of its waited-for children.
fn cpu_time(who: libc::c_int) -> Cpu {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: `usage` is writable memory of the right size; getrusage fills it in.
    let usage = unsafe {
        assert_eq!(libc::getrusage(who, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Cpu {
        user: tv(usage.ru_utime),
        system: tv(usage.ru_stime),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Cpu {
    user: Duration,
    system: Duration,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, earlier: Cpu) -> Cpu {
        Cpu {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
        }
    }
}

fn median<T: Ord + Copy>(samples: &mut [T]) -> T {
    samples.sort();
    samples[samples.len() / 2]
}

fn write_layer(src: &Path, out: &Path, compression: Compression) {
    let file = fs::File::create(out).unwrap();
    let opts = DiffOptions {
        compression,
        ..DiffOptions::default()
    };
    diff(src, file, &opts).expect("diff");
}

/// Many small text-like files (1–4 KiB) and a few large ones; returns content bytes.
fn generate_tree(root: &Path) -> usize {
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let words: Vec<&[u8]> = [
        "layer",
        "berth",
        "container",
        "overlay",
        "whiteout",
        "digest",
        "sha256",
        "root",
        "image",
        "manifest",
        "\n",
        "fn",
        "let",
        "mut",
        "0x1f",
        "struct",
    ]
    .iter()
    .map(|w| w.as_bytes())
    .collect();
    let mut text = |len: usize| {
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            out.extend_from_slice(words[(next() % words.len() as u64) as usize]);
            out.push(b' ');
        }
        out.truncate(len);
        out
    };
    let mut total = 0;
    for d in 0..SMALL_DIRS {
        let dir = root.join(format!("usr/share/pkg{:03}/data", d));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..SMALL_PER_DIR {
            let len = 1024 + (f * 7919 + d * 104_729) % (3 * 1024);
            fs::write(dir.join(format!("file{f:03}.txt")), text(len)).unwrap();
            total += len;
        }
    }
    let big = root.join("opt/big");
    fs::create_dir_all(&big).unwrap();
    for i in 0..LARGE_FILES {
        fs::write(big.join(format!("blob{i}.bin")), text(LARGE_SIZE)).unwrap();
        total += LARGE_SIZE;
    }
    total
}
