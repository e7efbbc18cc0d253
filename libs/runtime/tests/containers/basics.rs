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

/// An engine started under `nohup` or from a script's background job inherits SIGHUP,
/// SIGINT and SIGQUIT ignored; its containers must still start with the default
/// dispositions, as runc's do (an ignored SIGINT would make Ctrl-C useless in them).
#[test]
fn signals_reach_the_container_with_default_dispositions() {
    // Process-wide, like nohup's: every monitor this test binary starts inherits it.
    for sig in [
        nix::sys::signal::Signal::SIGHUP,
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGQUIT,
    ] {
        // SAFETY: SIG_IGN installs no handler code.
        unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigIgn) }.unwrap();
    }
    let mut env = TestEnv::new("signals");
    let (code, _, out) = env.run(&TestEnv::config(&["grep", "SigIgn", "/proc/self/status"]));
    assert_eq!(code, 0, "{out}");
    let mask = u64::from_str_radix(out.split_whitespace().nth(1).unwrap(), 16).unwrap();
    // Signals 1-31; above them (glibc's internal 32) the container inherits what runc's do.
    assert_eq!(mask & 0x7fff_ffff, 0, "ignored in the container: {out}");
}
