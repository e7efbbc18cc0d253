//! Builds the busybox base image archive: `busybox-image OUT.tar [TAG]`, then prints
//! the image ID. `scripts/busybox-image` wraps this (and installs busybox-static).

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: busybox-image OUT.tar [TAG]   (TAG defaults to busybox:latest)");
        std::process::exit(2);
    };
    let tag = args.next().unwrap_or_else(|| "busybox:latest".to_owned());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let image = berth_testkit::busybox_archive(dir.path(), &tag);
    if let Err(e) = std::fs::copy(&image.path, &out) {
        eprintln!("busybox-image: writing {}: {e}", out.display());
        std::process::exit(1);
    }
    println!("{}", image.image_id);
}
