//! Checks the deployment files in `compose/` and `deploy/` against the real binaries.
//!
//! - every `.yaml`/`.yml` file parses (all documents of it);
//! - every flag that a compose service or a Kubernetes container passes to a berth binary is
//!   one that binary's `--help` lists, and every `BERTH_*` variable one it reads;
//! - every Kubernetes object has `apiVersion` and `kind`; the runner is a privileged
//!   DaemonSet; every Service selects a workload and targets a port one of its containers
//!   exposes; every gRPC port has gRPC probes; addresses name a service that serves them.
//!
//! The binaries are the ones in `target/debug`, so build them first:
//! `cargo build --workspace --bins`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize as _;
use serde_yaml::{Mapping, Value};

/// The berth binaries a manifest may run.
const BINARIES: &[&str] = &[
    "berth-gateway",
    "berth-image-store",
    "berth-registry-proxy",
    "berth-builder",
    "berth-runner",
];

/// Kubernetes kinds whose pods run containers, with the path to their pod spec.
const WORKLOAD_POD_SPECS: &[(&str, &[&str])] = &[
    ("Deployment", &["spec", "template", "spec"]),
    ("StatefulSet", &["spec", "template", "spec"]),
    ("DaemonSet", &["spec", "template", "spec"]),
    ("ReplicaSet", &["spec", "template", "spec"]),
    ("Job", &["spec", "template", "spec"]),
    (
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
    ("Pod", &["spec"]),
];

/// Addresses that a process listens on rather than dials.
const LISTEN_HOSTS: &[&str] = &["0.0.0.0", "127.0.0.1", "localhost", "[::]", "::"];

// ---------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------

/// One YAML document of one file.
#[derive(Debug)]
struct Doc {
    file: PathBuf,
    index: usize,
    value: Value,
}

impl Doc {
    fn origin(&self) -> String {
        format!("{} (document {})", self.file.display(), self.index + 1)
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits inside the workspace")
        .to_path_buf()
}

/// Every `.yaml`/`.yml` file under `dir`, sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// All documents of all YAML files under `dir` (relative to the workspace root), with
/// `<<` merge keys applied. Panics, naming the file, on invalid YAML.
fn load_docs(dir: &str) -> Vec<Doc> {
    let root = workspace_root().join(dir);
    let files = yaml_files(&root);
    assert!(
        !files.is_empty(),
        "no .yaml/.yml files under {}",
        root.display()
    );
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        for (index, document) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let mut value = Value::deserialize(document).unwrap_or_else(|e| {
                panic!(
                    "{} (document {}) is not valid YAML: {e}",
                    file.display(),
                    index + 1
                )
            });
            value.apply_merge().unwrap_or_else(|e| {
                panic!(
                    "{} (document {}): bad `<<` merge: {e}",
                    file.display(),
                    index + 1
                )
            });
            // An empty document (e.g. after a trailing `---`) is no object.
            if !value.is_null() {
                docs.push(Doc {
                    file: file.clone(),
                    index,
                    value,
                });
            }
        }
    }
    docs
}

// ---------------------------------------------------------------------------------------
// Value helpers
// ---------------------------------------------------------------------------------------

fn get<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

fn get_str<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(value, path).and_then(Value::as_str)
}

fn scalar_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A command as compose and Kubernetes write it: a list of words, or (compose only) one
/// string, split on whitespace.
fn words(value: Option<&Value>, origin: &str) -> Vec<String> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => {
            assert!(
                !s.contains(['"', '\'', '\\']),
                "{origin}: quoted command strings are not checked; write the command as a list"
            );
            s.split_whitespace().map(str::to_owned).collect()
        }
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| {
                scalar_to_string(item)
                    .unwrap_or_else(|| panic!("{origin}: command word {item:?} is not a scalar"))
            })
            .collect(),
        Some(other) => panic!("{origin}: a command must be a list or a string, not {other:?}"),
    }
}

fn mapping(value: Option<&Value>) -> Option<&Mapping> {
    value.and_then(Value::as_mapping)
}

// ---------------------------------------------------------------------------------------
// What the manifests run
// ---------------------------------------------------------------------------------------

/// One berth binary as a manifest runs it.
#[derive(Debug)]
struct Invocation {
    origin: String,
    /// The compose service or Kubernetes workload.
    owner: String,
    binary: String,
    /// The words after the binary.
    args: Vec<String>,
    /// Names of the environment variables the manifest sets.
    env: Vec<String>,
}

impl Invocation {
    /// The flags passed, as written (`--flag` or `-F`), without `=value`.
    fn flags(&self) -> Vec<String> {
        flags_in(&self.args)
    }

    /// Every value given to one of the flags `names` (as `FLAG VALUE` or `FLAG=VALUE`).
    fn values_of(&self, names: &[&str]) -> Vec<String> {
        let mut values = Vec::new();
        let mut args = self.args.iter();
        while let Some(arg) = args.next() {
            if names.contains(&arg.as_str()) {
                if let Some(v) = args.next() {
                    values.push(v.clone());
                }
            } else if let Some((name, v)) = arg.split_once('=')
                && names.contains(&name)
            {
                values.push(v.to_owned());
            }
        }
        values
    }
}

fn flags_in(args: &[String]) -> Vec<String> {
    args.iter()
        .filter(|a| a.starts_with('-') && a.len() > 1 && *a != "--")
        .map(|a| a.split_once('=').map_or(a.as_str(), |(f, _)| f).to_owned())
        .collect()
}

/// The berth binary `argv` runs, if any: its first word, by file name.
fn berth_binary(argv: &[String]) -> Option<String> {
    let first = argv.first()?;
    let name = first.rsplit('/').next().unwrap_or(first);
    BINARIES.contains(&name).then(|| name.to_owned())
}

fn is_berth_image(image: Option<&str>) -> bool {
    image.is_some_and(|i| {
        let name = i.rsplit('/').next().unwrap_or(i);
        name == "berth" || name.starts_with("berth:") || name.starts_with("berth@")
    })
}

/// The berth binaries that compose services run.
fn compose_invocations(docs: &[Doc]) -> Vec<Invocation> {
    let mut found = Vec::new();
    for doc in docs {
        let Some(services) = mapping(doc.value.get("services")) else {
            continue;
        };
        for (name, service) in services {
            let name = name.as_str().unwrap_or("?");
            let origin = format!("{}: service {name}", doc.origin());
            let mut argv = words(service.get("entrypoint"), &origin);
            argv.extend(words(service.get("command"), &origin));
            let Some(binary) = berth_binary(&argv) else {
                assert!(
                    !is_berth_image(get_str(service, &["image"])),
                    "{origin} uses the berth image but its entrypoint/command does not start \
                     with one of {BINARIES:?}, so nothing says which service it runs"
                );
                continue;
            };
            let env = match service.get("environment") {
                Some(Value::Mapping(m)) => m
                    .keys()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect(),
                Some(Value::Sequence(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|kv| kv.split('=').next().unwrap_or(kv).to_owned())
                    .collect(),
                _ => Vec::new(),
            };
            found.push(Invocation {
                origin,
                owner: name.to_owned(),
                binary,
                args: argv[1..].to_vec(),
                env,
            });
        }
    }
    found
}

/// A Kubernetes workload: its object and its pod spec.
#[derive(Debug)]
struct Workload<'a> {
    doc: &'a Doc,
    kind: &'a str,
    name: &'a str,
    namespace: &'a str,
    pod_spec: &'a Value,
    labels: BTreeMap<String, String>,
}

impl Workload<'_> {
    fn containers(&self) -> impl Iterator<Item = &Value> {
        ["initContainers", "containers"]
            .into_iter()
            .filter_map(|key| self.pod_spec.get(key).and_then(Value::as_sequence))
            .flatten()
    }

    fn origin(&self) -> String {
        format!("{}: {} {}", self.doc.origin(), self.kind, self.name)
    }
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    mapping(value)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), scalar_to_string(v)?)))
        .collect()
}

fn namespace_of(doc: &Value) -> &str {
    get_str(doc, &["metadata", "namespace"]).unwrap_or("default")
}

fn workloads(docs: &[Doc]) -> Vec<Workload<'_>> {
    let mut found = Vec::new();
    for doc in docs {
        let Some(kind) = get_str(&doc.value, &["kind"]) else {
            continue;
        };
        let Some((_, path)) = WORKLOAD_POD_SPECS.iter().find(|(k, _)| *k == kind) else {
            continue;
        };
        let name = get_str(&doc.value, &["metadata", "name"]).unwrap_or("?");
        let pod_spec = get(&doc.value, path)
            .unwrap_or_else(|| panic!("{}: {kind} {name} has no pod spec", doc.origin()));
        // A pod's labels are its own; a controller's are its pod template's.
        let pod_meta = if kind == "Pod" {
            &doc.value
        } else {
            get(&doc.value, &path[..path.len() - 1]).expect("the pod template exists")
        };
        let labels = string_map(get(pod_meta, &["metadata", "labels"]));
        found.push(Workload {
            doc,
            kind,
            name,
            namespace: namespace_of(&doc.value),
            pod_spec,
            labels,
        });
    }
    found
}

fn container_name(container: &Value) -> &str {
    get_str(container, &["name"]).unwrap_or("?")
}

/// The berth binaries that Kubernetes containers run, with the container they run in.
fn k8s_invocations<'a>(workloads: &'a [Workload<'a>]) -> Vec<(Invocation, &'a Value)> {
    workloads.iter().flat_map(workload_invocations).collect()
}

/// The berth binaries that one workload's containers run.
fn workload_invocations<'a>(workload: &'a Workload<'a>) -> Vec<(Invocation, &'a Value)> {
    let mut found = Vec::new();
    {
        for container in workload.containers() {
            let origin = format!(
                "{} container {}",
                workload.origin(),
                container_name(container)
            );
            let mut argv = words(container.get("command"), &origin);
            argv.extend(words(container.get("args"), &origin));
            let Some(binary) = berth_binary(&argv) else {
                assert!(
                    !is_berth_image(get_str(container, &["image"])),
                    "{origin} uses the berth image but its command does not start with one of \
                     {BINARIES:?}, so nothing says which service it runs"
                );
                continue;
            };
            let env = container
                .get("env")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(|e| get_str(e, &["name"]).map(str::to_owned))
                .collect();
            found.push((
                Invocation {
                    origin,
                    owner: workload.name.to_owned(),
                    binary,
                    args: argv[1..].to_vec(),
                    env,
                },
                container,
            ));
        }
    }
    found
}

// ---------------------------------------------------------------------------------------
// What the binaries accept
// ---------------------------------------------------------------------------------------

/// What a binary's `--help` says it accepts.
#[derive(Debug)]
struct Help {
    binary: String,
    flags: BTreeSet<String>,
    env: BTreeSet<String>,
    text: String,
}

impl Help {
    /// The flags of `flags` that this binary does not accept.
    fn unknown_flags(&self, flags: &[String]) -> Vec<String> {
        flags
            .iter()
            .filter(|f| !self.flags.contains(*f))
            .cloned()
            .collect()
    }
}

fn binary_path(binary: &str) -> PathBuf {
    workspace_root().join("target").join("debug").join(binary)
}

/// Runs `<binary> --help` from `target/debug` and reads the options it lists.
fn help(binary: &str) -> Help {
    let path = binary_path(binary);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (this test checks the \
         manifests against the real binaries' --help)",
        path.display()
    );
    let output = Command::new(&path)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} --help: {e}", path.display()));
    assert!(
        output.status.success(),
        "{} --help failed with {}: {}",
        path.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout)
        .unwrap_or_else(|e| panic!("{} --help printed non-UTF-8: {e}", path.display()));
    Help {
        binary: binary.to_owned(),
        flags: option_flags(&text),
        env: option_env(&text),
        text,
    }
}

/// The flags that a clap help text defines: on lines that start (after indentation) with a
/// dash, the leading words that are flags, e.g. `-H, --host <HOSTS>` gives `-H` and
/// `--host`. Flags merely mentioned in a description do not count.
fn option_flags(help: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for line in help.lines() {
        let line = line.trim_start();
        if !line.starts_with('-') {
            continue;
        }
        for word in line.split_whitespace() {
            let word = word.trim_end_matches(',');
            let word = word.split(['=', '[', '<']).next().unwrap_or(word);
            let is_flag = word.len() > 1
                && word.starts_with('-')
                && word
                    .trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !is_flag {
                break;
            }
            flags.insert(word.to_owned());
        }
    }
    flags
}

/// The environment variables that a clap help text names (`[env: NAME=]`).
fn option_env(help: &str) -> BTreeSet<String> {
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .map(str::to_owned)
        .collect()
}

fn all_helps() -> BTreeMap<String, Help> {
    BINARIES.iter().map(|b| (b.to_string(), help(b))).collect()
}

/// Asserts that each invocation passes only flags, and sets only `BERTH_*` variables,
/// that its binary accepts.
fn assert_flags_accepted(invocations: &[Invocation], helps: &BTreeMap<String, Help>) {
    let mut problems = Vec::new();
    for inv in invocations {
        let help = &helps[&inv.binary];
        for flag in help.unknown_flags(&inv.flags()) {
            problems.push(format!(
                "{} passes {flag} to {}, whose --help does not list it",
                inv.origin, inv.binary
            ));
        }
        for var in inv.env.iter().filter(|v| v.starts_with("BERTH_")) {
            if !help.env.contains(var) {
                problems.push(format!(
                    "{} sets {var} for {}, whose --help names no such variable",
                    inv.origin, inv.binary
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "flags the binaries do not accept:\n  {}\n(help texts from {})",
        problems.join("\n  "),
        binary_path("").display()
    );
}

// ---------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------

/// `tcp://HOST:PORT` or `nats://HOST:PORT` (also `HOST:PORT`) -> (host, port).
fn host_port(address: &str) -> Option<(&str, u16)> {
    let rest = address.split_once("://").map_or(
        address,
        |(scheme, rest)| {
            if scheme == "unix" { "" } else { rest }
        },
    );
    let (host, port) = rest.trim_end_matches('/').rsplit_once(':')?;
    Some((host, port.parse().ok()?))
}

/// The addresses an invocation dials: values of its flags that name a TCP or NATS address
/// of another host (not a listen address and not a pod's own IP).
fn dialled_addresses(inv: &Invocation) -> Vec<(String, String, u16)> {
    let mut found = Vec::new();
    let mut args = inv.args.iter().peekable();
    while let Some(arg) = args.next() {
        let (flag, value) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f.to_owned(), v.to_owned()),
            _ if arg.starts_with('-') => match args.peek() {
                Some(v) if !v.starts_with('-') => (arg.clone(), (*v).clone()),
                _ => continue,
            },
            _ => continue,
        };
        // Listen addresses and what a runner advertises about itself are not dialled.
        if ["--listen", "--health-listen", "--host", "-H", "--advertise"].contains(&flag.as_str()) {
            continue;
        }
        if !(value.starts_with("tcp://") || value.starts_with("nats://")) {
            continue;
        }
        let Some((host, port)) = host_port(&value) else {
            continue;
        };
        if LISTEN_HOSTS.contains(&host) || host.contains("$(") {
            continue;
        }
        found.push((flag, host.to_owned(), port));
    }
    found
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn every_yaml_file_parses() {
    let compose = load_docs("compose");
    let deploy = load_docs("deploy");
    assert!(
        compose.iter().any(|d| d.value.get("services").is_some()),
        "compose/ has no file with `services:`"
    );
    assert!(
        deploy.len() >= 7,
        "deploy/ should hold the namespace, NATS and the five services; found {} objects",
        deploy.len()
    );
}

#[test]
fn the_help_parser_finds_real_flags_and_rejects_made_up_ones() {
    let gateway = help("berth-gateway");
    for flag in ["-H", "--host", "--nats", "--health-listen", "--help"] {
        assert!(
            gateway.flags.contains(flag),
            "{flag} not found in berth-gateway --help; parsed {:?} from:\n{}",
            gateway.flags,
            gateway.text
        );
    }
    assert!(
        gateway.env.contains("BERTH_NATS_URL"),
        "BERTH_NATS_URL not found in berth-gateway --help: {:?}",
        gateway.env
    );
    // The check must be able to fail: a made-up flag is reported for every binary, and so
    // is a real flag of another binary (berth-gateway has no --listen).
    for binary in BINARIES {
        let help = help(binary);
        assert_eq!(
            help.unknown_flags(&["--no-such-flag".to_owned()]),
            ["--no-such-flag"],
            "--no-such-flag was taken for a flag of {}",
            help.binary
        );
        assert!(
            !help.text.contains("--no-such-flag"),
            "{binary} --help mentions --no-such-flag"
        );
        assert!(!help.env.contains("BERTH_NO_SUCH_VARIABLE"));
    }
    assert_eq!(
        gateway.unknown_flags(&["--listen".to_owned()]),
        ["--listen"]
    );
    // A flag mentioned only in a description is not one the binary defines.
    let parsed = option_flags(
        "Options:\n      --real <X>\n          Like --imaginary, but real\n  -h, --help\n",
    );
    assert_eq!(
        parsed,
        ["--real", "-h", "--help"]
            .into_iter()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
    );
}

#[test]
fn compose_passes_only_flags_the_binaries_accept() {
    let docs = load_docs("compose");
    let invocations = compose_invocations(&docs);
    let run: BTreeSet<&str> = invocations.iter().map(|i| i.binary.as_str()).collect();
    assert_eq!(
        run,
        BINARIES.iter().copied().collect::<BTreeSet<_>>(),
        "compose should run each berth service"
    );
    assert_flags_accepted(&invocations, &all_helps());
}

#[test]
fn kubernetes_passes_only_flags_the_binaries_accept() {
    let docs = load_docs("deploy");
    let workloads = workloads(&docs);
    let invocations: Vec<Invocation> = k8s_invocations(&workloads)
        .into_iter()
        .map(|(inv, _)| inv)
        .collect();
    let run: BTreeSet<&str> = invocations.iter().map(|i| i.binary.as_str()).collect();
    assert_eq!(
        run,
        BINARIES.iter().copied().collect::<BTreeSet<_>>(),
        "deploy/ should run each berth service"
    );
    assert_flags_accepted(&invocations, &all_helps());
}

#[test]
fn compose_addresses_name_compose_services() {
    let docs = load_docs("compose");
    for doc in &docs {
        let Some(services) = mapping(doc.value.get("services")) else {
            continue;
        };
        let names: BTreeSet<&str> = services.keys().filter_map(Value::as_str).collect();
        let invocations = compose_invocations(std::slice::from_ref(doc));
        for inv in &invocations {
            for (flag, host, port) in dialled_addresses(inv) {
                assert!(
                    names.contains(host.as_str()),
                    "{}: {flag} dials {host}:{port}, but there is no service {host} in {}",
                    inv.origin,
                    doc.file.display()
                );
            }
        }
        for (name, service) in services {
            let name = name.as_str().unwrap_or("?");
            let deps = match service.get("depends_on") {
                Some(Value::Mapping(m)) => m.keys().filter_map(scalar_to_string).collect(),
                other => words(other, name),
            };
            for dep in deps {
                assert!(
                    names.contains(dep.as_str()),
                    "{}: service {name} depends on {dep}, which does not exist",
                    doc.origin()
                );
            }
        }
        let runner = invocations
            .iter()
            .find(|i| i.binary == "berth-runner")
            .expect("compose runs berth-runner");
        let service = &services[runner.owner.as_str()];
        assert_eq!(
            service.get("privileged").and_then(Value::as_bool),
            Some(true),
            "{}: the runner must be privileged",
            runner.origin
        );
        assert_eq!(
            get_str(service, &["pid"]),
            Some("host"),
            "{}: the runner must share the host's PID namespace",
            runner.origin
        );
    }
}

#[test]
fn every_kubernetes_object_has_api_version_and_kind() {
    for doc in load_docs("deploy") {
        for key in ["apiVersion", "kind"] {
            assert!(
                get_str(&doc.value, &[key]).is_some_and(|s| !s.is_empty()),
                "{} has no {key}",
                doc.origin()
            );
        }
        let kind = get_str(&doc.value, &["kind"]).unwrap_or_default();
        if kind != "Kustomization" {
            assert!(
                get_str(&doc.value, &["metadata", "name"]).is_some(),
                "{}: {kind} has no metadata.name",
                doc.origin()
            );
        }
    }
}

#[test]
fn kustomization_lists_every_manifest() {
    let root = workspace_root().join("deploy");
    let docs = load_docs("deploy");
    let kustomization = docs
        .iter()
        .find(|d| get_str(&d.value, &["kind"]) == Some("Kustomization"))
        .expect("deploy/ has a kustomization.yaml");
    let listed: BTreeSet<String> = words(
        kustomization.value.get("resources"),
        &kustomization.origin(),
    )
    .into_iter()
    .collect();
    for file in yaml_files(&root) {
        let rel = file
            .strip_prefix(&root)
            .expect("under deploy/")
            .to_string_lossy()
            .into_owned();
        if file == kustomization.file {
            continue;
        }
        assert!(
            listed.contains(&rel),
            "{}: resources does not list {rel}",
            kustomization.origin()
        );
    }
    for rel in &listed {
        assert!(
            root.join(rel).is_file(),
            "{}: lists {rel}, which does not exist",
            kustomization.origin()
        );
    }
}

#[test]
fn the_runner_is_a_privileged_daemonset() {
    let docs = load_docs("deploy");
    let workloads = workloads(&docs);
    let invocations = k8s_invocations(&workloads);
    let runners: Vec<&Workload> = workloads
        .iter()
        .filter(|w| {
            workload_invocations(w)
                .iter()
                .any(|(i, _)| i.binary == "berth-runner")
        })
        .collect();
    assert_eq!(
        runners.len(),
        1,
        "exactly one workload should run berth-runner"
    );
    let runner = runners[0];
    assert_eq!(
        runner.kind,
        "DaemonSet",
        "{}: the runner must be a DaemonSet",
        runner.origin()
    );
    let spec = runner.pod_spec;
    assert_eq!(
        spec.get("hostPID").and_then(Value::as_bool),
        Some(true),
        "{}: the runner needs hostPID: true",
        runner.origin()
    );
    assert_ne!(
        spec.get("hostNetwork").and_then(Value::as_bool),
        Some(true),
        "{}: the runner keeps its own network namespace",
        runner.origin()
    );
    let (inv, container) = invocations
        .iter()
        .find(|(i, _)| i.binary == "berth-runner")
        .expect("the runner's invocation");
    assert_eq!(
        get(container, &["securityContext", "privileged"]).and_then(Value::as_bool),
        Some(true),
        "{}: the runner container must be privileged",
        inv.origin
    );
    let advertise = inv.values_of(&["--advertise"]);
    assert_eq!(
        advertise,
        ["tcp://$(POD_IP):7104"],
        "{}: the runner must advertise its pod IP",
        inv.origin
    );
    let pod_ip = container
        .get("env")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .find(|e| get_str(e, &["name"]) == Some("POD_IP"))
        .unwrap_or_else(|| panic!("{}: no POD_IP env for $(POD_IP)", inv.origin));
    assert_eq!(
        get_str(pod_ip, &["valueFrom", "fieldRef", "fieldPath"]),
        Some("status.podIP"),
        "{}: POD_IP must come from the downward API",
        inv.origin
    );
    let host_paths: BTreeSet<&str> = spec
        .get("volumes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|v| get_str(v, &["hostPath", "path"]))
        .collect();
    for path in ["/var/lib/berth/runner", "/sys/fs/cgroup"] {
        assert!(
            host_paths.contains(path),
            "{}: the runner needs the node's {path} (hostPath)",
            runner.origin()
        );
    }
}

/// The ports a container exposes: by number and by name.
fn container_ports(container: &Value) -> (BTreeSet<u64>, BTreeSet<String>) {
    let mut numbers = BTreeSet::new();
    let mut names = BTreeSet::new();
    for port in container
        .get("ports")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        if let Some(n) = port.get("containerPort").and_then(Value::as_u64) {
            numbers.insert(n);
        }
        if let Some(name) = get_str(port, &["name"]) {
            names.insert(name.to_owned());
        }
    }
    (numbers, names)
}

#[test]
fn every_service_targets_a_port_that_a_container_exposes() {
    let docs = load_docs("deploy");
    let workloads = workloads(&docs);
    let mut services = 0;
    for doc in &docs {
        if get_str(&doc.value, &["kind"]) != Some("Service") {
            continue;
        }
        services += 1;
        let name = get_str(&doc.value, &["metadata", "name"]).unwrap_or("?");
        let origin = format!("{}: Service {name}", doc.origin());
        let selector = string_map(get(&doc.value, &["spec", "selector"]));
        assert!(!selector.is_empty(), "{origin} has no selector");
        let selected: Vec<&Workload> = workloads
            .iter()
            .filter(|w| {
                w.namespace == namespace_of(&doc.value)
                    && selector.iter().all(|(k, v)| w.labels.get(k) == Some(v))
            })
            .collect();
        assert!(
            !selected.is_empty(),
            "{origin} selects {selector:?}, which no workload's pods carry"
        );
        let ports = get(&doc.value, &["spec", "ports"])
            .and_then(Value::as_sequence)
            .unwrap_or_else(|| panic!("{origin} has no ports"));
        for port in ports {
            let number = port
                .get("port")
                .and_then(Value::as_u64)
                .unwrap_or_else(|| panic!("{origin}: a port without a number"));
            let target = port.get("targetPort").cloned().unwrap_or(number.into());
            let exposed = selected.iter().flat_map(|w| w.containers()).any(|c| {
                let (numbers, names) = container_ports(c);
                match &target {
                    Value::Number(n) => n.as_u64().is_some_and(|n| numbers.contains(&n)),
                    Value::String(s) => names.contains(s),
                    _ => false,
                }
            });
            assert!(
                exposed,
                "{origin}: port {number} targets {}, which no container of {:?} exposes",
                scalar_to_string(&target).unwrap_or_else(|| format!("{target:?}")),
                selected.iter().map(|w| w.name).collect::<Vec<_>>()
            );
        }
    }
    assert!(
        services >= 5,
        "deploy/ should have a Service per gRPC service and the gateway"
    );
}

#[test]
fn every_grpc_port_has_grpc_probes_and_is_exposed() {
    let docs = load_docs("deploy");
    let workloads = workloads(&docs);
    for (inv, container) in k8s_invocations(&workloads) {
        let (exposed, _) = container_ports(container);
        let listen_ports: BTreeSet<u64> = inv
            .values_of(&["--listen", "--health-listen"])
            .iter()
            .map(|a| {
                host_port(a)
                    .unwrap_or_else(|| panic!("{}: cannot read a port from {a}", inv.origin))
                    .1
                    .into()
            })
            .collect();
        assert!(
            !listen_ports.is_empty(),
            "{}: no --listen/--health-listen, so no gRPC health for probes",
            inv.origin
        );
        for probe in ["readinessProbe", "livenessProbe"] {
            let port = get(container, &[probe, "grpc", "port"])
                .and_then(Value::as_u64)
                .unwrap_or_else(|| panic!("{}: no gRPC {probe} (grpc.port)", inv.origin));
            assert!(
                listen_ports.contains(&port),
                "{}: {probe} checks port {port}, but the service serves gRPC on {listen_ports:?}",
                inv.origin
            );
        }
        let served: Vec<u64> = listen_ports
            .iter()
            .copied()
            .chain(
                inv.values_of(&["--host", "-H"])
                    .iter()
                    .filter_map(|h| host_port(h).map(|(_, p)| u64::from(p))),
            )
            .collect();
        for port in served {
            assert!(
                exposed.contains(&port),
                "{}: serves on port {port} but declares no containerPort {port}",
                inv.origin
            );
        }
    }
}

#[test]
fn kubernetes_addresses_name_services_that_serve_them() {
    let docs = load_docs("deploy");
    let workloads = workloads(&docs);
    // (namespace, service) -> ports
    let mut services: BTreeMap<(String, String), BTreeSet<u64>> = BTreeMap::new();
    for doc in &docs {
        if get_str(&doc.value, &["kind"]) != Some("Service") {
            continue;
        }
        let name = get_str(&doc.value, &["metadata", "name"]).unwrap_or("?");
        let ports = get(&doc.value, &["spec", "ports"])
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("port").and_then(Value::as_u64))
            .collect();
        services.insert(
            (namespace_of(&doc.value).to_owned(), name.to_owned()),
            ports,
        );
    }
    for workload in &workloads {
        for (inv, _) in workload_invocations(workload) {
            for (flag, host, port) in dialled_addresses(&inv) {
                // `image-store`, `image-store.berth`, `image-store.berth.svc.cluster.local`
                let mut labels = host.split('.');
                let service = labels.next().unwrap_or_default();
                let namespace = labels.next().unwrap_or(workload.namespace);
                let ports = services
                    .get(&(namespace.to_owned(), service.to_owned()))
                    .unwrap_or_else(|| {
                        panic!(
                            "{}: {flag} dials {host}, but there is no Service {service} in \
                             namespace {namespace}",
                            inv.origin
                        )
                    });
                assert!(
                    ports.contains(&u64::from(port)),
                    "{}: {flag} dials {host}:{port}, but Service {service} serves {ports:?}",
                    inv.origin
                );
            }
        }
    }
}

#[test]
fn kubernetes_arg_variables_are_defined() {
    // Kubernetes expands $(VAR) in command and args only from the container's own env;
    // an undefined one is passed on literally, e.g. as the address `tcp://$(POD_IP):7104`.
    let docs = load_docs("deploy");
    let workloads = workloads(&docs);
    for (inv, _) in k8s_invocations(&workloads) {
        for arg in &inv.args {
            for reference in arg.split("$(").skip(1) {
                let var = reference
                    .split(')')
                    .next()
                    .expect("split yields at least one piece");
                assert!(
                    reference.contains(')') && inv.env.iter().any(|e| e == var),
                    "{}: `{arg}` uses $({var}), which the container's env does not define",
                    inv.origin
                );
            }
        }
    }
}

/// Every service that joins NATS authenticates (issue #9, finding 5): an unauthenticated
/// bus lets anyone who reaches it publish heartbeats and steer placement.
fn assert_nats_authenticated(invocations: &[Invocation]) {
    for inv in invocations {
        if inv.values_of(&["--nats"]).is_empty() && !inv.env.iter().any(|e| e == "BERTH_NATS_URL") {
            continue;
        }
        let flags = inv.flags();
        let has = |flag: &str, var: &str| {
            flags.iter().any(|f| f == flag) || inv.env.iter().any(|e| e == var)
        };
        let creds = has("--nats-creds", "BERTH_NATS_CREDS");
        let user = has("--nats-user", "BERTH_NATS_USER")
            && (has("--nats-password-file", "BERTH_NATS_PASSWORD_FILE")
                || inv.env.iter().any(|e| e == "BERTH_NATS_PASSWORD"));
        let token = has("--nats-token-file", "BERTH_NATS_TOKEN_FILE")
            || inv.env.iter().any(|e| e == "BERTH_NATS_TOKEN");
        assert!(
            creds || user || token,
            "{} joins NATS without credentials (--nats-creds, --nats-user with a password, \
             or a token)",
            inv.origin
        );
        assert!(
            !flags
                .iter()
                .any(|f| f == "--nats-password" || f == "--nats-token"),
            "{}: a NATS secret on the command line is visible to every user of the host",
            inv.origin
        );
    }
}

#[test]
fn every_service_authenticates_to_nats() {
    let compose = load_docs("compose");
    assert_nats_authenticated(&compose_invocations(&compose));
    let deploy = load_docs("deploy");
    let workloads = workloads(&deploy);
    let invocations: Vec<Invocation> = k8s_invocations(&workloads)
        .into_iter()
        .map(|(inv, _)| inv)
        .collect();
    assert_nats_authenticated(&invocations);
}
