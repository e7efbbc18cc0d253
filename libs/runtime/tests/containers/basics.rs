//! The basics through the real runtime: output, exit codes, env, cwd, user, hostname.

use crate::support::TestEnv;

#[test]
fn echo_hi_prints_hi() {
    let mut env = TestEnv::new("echo");
    let (code, oom, out) = env.run(&TestEnv::config(&["echo", "hi"]));
    assert_eq!((code, oom, out.as_str()), (0, false, "hi\n"));
}

#[test]
fn exit_code_is_carried() {
    let mut env = TestEnv::new("exit");
    let (code, _, _) = env.run(&TestEnv::config(&["sh", "-c", "exit 3"]));
    assert_eq!(code, 3);
}

#[test]
fn env_and_cwd_are_set() {
    let mut env = TestEnv::new("env");
    let mut cfg = TestEnv::config(&["sh", "-c", "echo $FOO; pwd"]);
    cfg.env = vec!["FOO=bar".into()];
    cfg.working_dir = "/tmp".into();
    let (code, _, out) = env.run(&cfg);
    assert_eq!((code, out.as_str()), (0, "bar\n/tmp\n"));
}

#[test]
fn user_nobody_runs_as_65534() {
    let mut env = TestEnv::new("user");
    let mut cfg = TestEnv::config(&["id", "-u"]);
    cfg.user = "nobody".into();
    let (code, _, out) = env.run(&cfg);
    assert_eq!((code, out.as_str()), (0, "65534\n"));
}

#[test]
fn hostname_is_set() {
    let mut env = TestEnv::new("hostname");
    let mut cfg = TestEnv::config(&["hostname"]);
    cfg.hostname = "berth-box".into();
    let (code, _, out) = env.run(&cfg);
    assert_eq!((code, out.as_str()), (0, "berth-box\n"));
}
