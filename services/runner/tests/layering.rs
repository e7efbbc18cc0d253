//! The runner's layering, checked on its source: the domain modules (containers,
//! networks, volumes, host) know nothing of gRPC, which lives in `rpc/` alone, and
//! depend on each other one way only (containers -> networks, volumes; networks and
//! volumes on neither). A line that breaks either rule fails this test, naming it.

use std::path::{Path, PathBuf};

/// What a domain module may not name, and why.
const WIRE: &[&str] = &["tonic", "berth_proto", "prost"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every line of code (comments dropped) of a module: its file or its directory.
fn module_lines(name: &str) -> Vec<(PathBuf, usize, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let dir = src.join(name);
    if dir.is_dir() {
        rust_files(&dir, &mut files);
    }
    let file = src.join(format!("{name}.rs"));
    if file.is_file() {
        files.push(file);
    }
    assert!(!files.is_empty(), "the runner has no module {name}");
    let mut lines = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            lines.push((f.clone(), n + 1, code.to_owned()));
        }
    }
    lines
}

/// Whether `code` names the crate or module `name` as a path segment.
fn names(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + name.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && (code[at + name.len()..].starts_with("::") || code[..at].ends_with("::"))
    })
}

fn offences(modules: &[&str], forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for module in modules {
        for (file, n, code) in module_lines(module) {
            for name in forbidden {
                if names(&code, name) {
                    found.push(format!(
                        "{}:{n}: names {name}: {}",
                        file.display(),
                        code.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn domain_modules_know_no_grpc() {
    let found = offences(&["containers", "networks", "volumes", "host"], WIRE);
    assert!(
        found.is_empty(),
        "gRPC belongs in rpc/; map to and from the domain's types there:\n{}",
        found.join("\n")
    );
}

#[test]
fn networks_and_volumes_do_not_reach_back_into_containers() {
    let mut found = offences(&["networks"], &["containers"]);
    found.extend(offences(&["volumes"], &["containers", "networks"]));
    assert!(
        found.is_empty(),
        "networks and volumes see containers only through what they are given \
         (networks::Members):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_looks_for() {
    assert!(names("use tonic::Status;", "tonic"));
    assert!(names("x: berth_proto::v1::Mount", "berth_proto"));
    assert!(names("use crate::containers::Containers;", "containers"));
    assert!(!names("let containers = 1;", "containers"));
    assert!(!module_lines("rpc").is_empty());
}
