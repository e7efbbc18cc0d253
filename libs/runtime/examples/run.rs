//! Runs one container from the command line, like `runc run`:
//!
//! ```text
//! run --root STATE --rootfs DIR --id ID [--cgroup-parent PATH] [--monitor BIN] -- CMD ARGS...
//! ```
//!
//! Prints `created ID PID`, starts the container, waits for it and exits with its exit
//! code. Killing this process does not stop the container: its monitor carries on.

use std::path::PathBuf;

use berth_runtime::{ContainerConfig, Runtime};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut root, mut rootfs, mut id, mut parent, mut monitor) = (None, None, None, None, None);
    let mut cmd = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--root" => root = args.next().map(PathBuf::from),
            "--rootfs" => rootfs = args.next().map(PathBuf::from),
            "--id" => id = args.next(),
            "--cgroup-parent" => parent = args.next(),
            "--monitor" => monitor = args.next().map(PathBuf::from),
            "--" => cmd.extend(args.by_ref()),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let (Some(root), Some(rootfs), Some(id)) = (root, rootfs, id) else {
        eprintln!(
            "usage: run --root STATE --rootfs DIR --id ID [--cgroup-parent P] [--monitor BIN] -- CMD..."
        );
        std::process::exit(2);
    };
    let mut runtime = Runtime::new(root, parent).unwrap_or_else(|e| fail(e));
    if let Some(m) = monitor {
        runtime = runtime.with_monitor(m);
    }
    let config = ContainerConfig {
        args: cmd,
        ..Default::default()
    };
    let handle = runtime
        .create(&id, &config, &rootfs)
        .unwrap_or_else(|e| fail(e));
    for w in &handle.warnings {
        eprintln!("WARNING: {w}");
    }
    println!("created {} {}", handle.id, handle.pid);
    runtime.start(&id).unwrap_or_else(|e| fail(e));
    let exit = runtime.wait(&id, None).unwrap_or_else(|e| fail(e));
    std::process::exit(exit.exit_code);
}

fn fail(e: berth_runtime::Error) -> ! {
    eprintln!("error: {e}");
    std::process::exit(125)
}
