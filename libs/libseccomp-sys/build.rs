//! Links Debian's libseccomp (package libseccomp-dev), as crates.io's libseccomp-sys does.

fn main() {
    println!("cargo:rustc-link-lib=dylib=seccomp");
}
