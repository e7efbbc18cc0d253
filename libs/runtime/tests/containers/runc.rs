//! The behaviour oracle: the same container run by berth-runtime and by `runc run`, then
//! compared on what a process inside can observe: exit code, environment, mounts,
//! capabilities, cgroup limits, hostname and user. Needs runc (`apt-get install runc`);
//! without it the tests fail, they never skip.

use std::collections::BTreeMap;
use std::process::Command;

use berth_runtime::cgroups::{self, HostSupport};
use berth_runtime::spec::{self, SpecContext};
use berth_runtime::{ContainerConfig, Resources};

use crate::support::TestEnv;

const PROBE: &str = "echo '== env'; env | sort; echo '== mounts'; cat /proc/self/mounts; echo '== caps'; grep -E 'Cap|SigIgn|SigBlk' /proc/self/status; \
echo '== host'; hostname; echo '== id'; id; echo '== limits'; \
cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/pids/pids.max 2>/dev/null || \
cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/pids.max; \
echo '== security'; unshare -U true 2>/dev/null && echo userns-allowed || echo userns-denied; \
for f in /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max; do if [ -f $f ]; then \
if echo 1000 2>/dev/null > $f; then echo cgroup-writable; else echo cgroup-readonly; fi; break; fi; done; exit 3";

fn runc() -> &'static str {
    let ok = Command::new("runc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "runc is missing: apt-get install runc (the runtime tests compare against it)"
    );
    "runc"
}

/// Runs `cfg` under runc with the spec berth builds, returning (exit code, output).
fn run_under_runc(env: &TestEnv, id: &str, cfg: &ContainerConfig) -> (i32, String) {
    let runc = runc();
    let bundle = env.dir.path().join(format!("bundle-{id}"));
    std::fs::create_dir_all(&bundle).unwrap();
    let host = HostSupport::detect();
    let cgroups_path = cgroups::join_cgroup(&env.cgroup_parent, id);
    let ctx = SpecContext {
        id,
        rootfs: &env.rootfs,
        cgroups_path: &cgroups_path,
        host: &host,
        bounding: spec::capabilities::daemon_bounding_set(),
        hard_limit: spec::current_hard_limit,
        nofile_hard: spec::daemon_nofile_hard(),
    };
    let built = spec::build(cfg, &ctx).unwrap();
    let mut json = serde_json::to_value(&built.spec).unwrap();
    if let Some(seccomp) = json.pointer_mut("/linux/seccomp") {
        spec::seccomp::masked_eq_for_runc(seccomp);
    }
    std::fs::write(
        bundle.join("config.json"),
        serde_json::to_vec_pretty(&json).unwrap(),
    )
    .unwrap();
    let root = env.dir.path().join("runc-root");
    let out = Command::new(runc)
        .args([
            "--root",
            root.to_str().unwrap(),
            "run",
            "--bundle",
            bundle.to_str().unwrap(),
            id,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let _ = Command::new(runc)
        .args(["--root", root.to_str().unwrap(), "delete", "-f", id])
        .output();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// The sections of the probe's output, normalised where runtimes may legitimately differ
/// in form but not in substance: for mounts, only what is visible at each mount point
/// (the topmost mount: a read-only remount stacks on the original) as type and ro/rw,
/// since the other options vary with the kernel.
fn sections(out: &str) -> Vec<(String, Vec<String>)> {
    let mut result: Vec<(String, Vec<String>)> = Vec::new();
    let mut visible: BTreeMap<String, String> = BTreeMap::new();
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            result.push((name.to_string(), Vec::new()));
        } else if let Some((name, lines)) = result.last_mut() {
            if name == "mounts" {
                let f: Vec<&str> = line.split_whitespace().collect();
                let mode = if f[3].split(',').any(|o| o == "ro") {
                    "ro"
                } else {
                    "rw"
                };
                visible.insert(f[1].to_string(), format!("{} {}", f[2], mode));
            } else {
                lines.push(line.to_string());
            }
        }
    }
    for (name, lines) in &mut result {
        if name == "mounts" {
            lines.extend(visible.iter().map(|(path, what)| format!("{path} {what}")));
        }
    }
    result
}

fn compare(name: &str, cfg: ContainerConfig) -> String {
    let mut env = TestEnv::new(name);
    let (berth_code, _, berth_out) = env.run(&cfg);
    let (runc_code, runc_out) = run_under_runc(&env, &format!("runc-{name}"), &cfg);
    assert_eq!(
        berth_code, runc_code,
        "exit codes differ\nberth:\n{berth_out}\nrunc:\n{runc_out}"
    );
    let (b, r) = (sections(&berth_out), sections(&runc_out));
    assert_eq!(b.len(), 7, "berth output incomplete:\n{berth_out}");
    for ((bn, bl), (rn, rl)) in b.iter().zip(&r) {
        assert_eq!(bn, rn);
        assert_eq!(
            bl, rl,
            "section {bn} differs\nberth:\n{berth_out}\nrunc:\n{runc_out}"
        );
    }
    assert_eq!(b.len(), r.len(), "runc output incomplete:\n{runc_out}");
    for expected in ["userns-denied", "cgroup-readonly"] {
        assert!(
            berth_out.contains(expected),
            "{expected} missing:\n{berth_out}"
        );
    }
    berth_out
}

#[test]
fn defaults_match_runc() {
    let mut cfg = TestEnv::config(&["sh", "-c", PROBE]);
    cfg.hostname = "oracle".into();
    cfg.env = vec!["FOO=bar".into()];
    compare("defaults", cfg);
}

#[test]
fn user_limits_and_readonly_root_match_runc() {
    let mut cfg = TestEnv::config(&["sh", "-c", PROBE]);
    cfg.hostname = "limited".into();
    cfg.user = "nobody".into();
    cfg.readonly_rootfs = true;
    cfg.cap_add = vec!["NET_ADMIN".into()];
    cfg.cap_drop = vec!["MKNOD".into()];
    cfg.resources = Resources {
        memory: 200 << 20,
        memory_swap: 1 << 30,
        cpu_shares: 1024,
        pids_limit: 50,
        ..Default::default()
    };
    let data = tempfile::tempdir().unwrap();
    cfg.binds = vec![format!("{}:/data:ro", data.path().display())];
    cfg.tmpfs.insert("/scratch".into(), "size=1m".into());
    let out = compare("limits", cfg);
    assert!(out.contains("== limits\n209715200\n1024\n50\n"), "{out}");
    assert!(out.contains("uid=65534"), "{out}");
}
