//! exec, attach, terminals, pause and seccomp in real containers.

use std::time::Duration;

use berth_runtime::{ExecConfig, Frame, Status};

use crate::support::TestEnv;

fn exec_cfg(args: &[&str]) -> ExecConfig {
    ExecConfig {
        args: args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn exec_runs_inside_and_carries_the_exit_code() {
    let mut env = TestEnv::new("exec");
    let mut cfg = TestEnv::config(&["sleep", "30"]);
    cfg.hostname = "inside".into();
    let h = env.create(&cfg);
    env.runtime.start(&h.id).unwrap();

    let (code, out, _) = env
        .runtime
        .exec(&h.id, &exec_cfg(&["echo", "from-exec"]))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!((code, out.as_slice()), (Some(0), &b"from-exec\n"[..]));
    let (code, out, _) = env
        .runtime
        .exec(&h.id, &exec_cfg(&["hostname"]))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(
        (code, out.as_slice()),
        (Some(0), &b"inside\n"[..]),
        "exec joins the UTS namespace"
    );
    let (code, _, _) = env
        .runtime
        .exec(&h.id, &exec_cfg(&["sh", "-c", "exit 5"]))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(code, Some(5));

    let mut cfg = exec_cfg(&[
        "sh",
        "-c",
        "id -u; echo $GREETING; pwd; cat /proc/1/cmdline",
    ]);
    cfg.user = "nobody".into();
    cfg.env = vec!["GREETING=hello".into()];
    cfg.working_dir = "/tmp".into();
    let (code, out, _) = env.runtime.exec(&h.id, &cfg).unwrap().collect().unwrap();
    assert_eq!(code, Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out),
        "65534\nhello\n/tmp\nsleep\u{0}30\u{0}",
        "exec joins the pid namespace"
    );

    let mut cat = exec_cfg(&["cat"]);
    cat.attach_stdin = true;
    let mut s = env.runtime.exec(&h.id, &cat).unwrap();
    assert!(s.pid().is_some());
    s.write_stdin(b"ping\n").unwrap();
    s.close_stdin().unwrap();
    let (code, out, _) = s.collect().unwrap();
    assert_eq!((code, out.as_slice()), (Some(0), &b"ping\n"[..]));

    let mut tty = exec_cfg(&["tty"]);
    tty.tty = true;
    let (code, out, _) = env.runtime.exec(&h.id, &tty).unwrap().collect().unwrap();
    assert_eq!(code, Some(0));
    assert!(
        String::from_utf8_lossy(&out).starts_with("/dev/pts/"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn seccomp_applies_to_the_container_and_to_exec() {
    let mut env = TestEnv::new("seccomp");
    let h = env.create(&TestEnv::config(&[
        "sh",
        "-c",
        "unshare -U true && echo unconfined || echo blocked; exec sleep 30",
    ]));
    env.runtime.start(&h.id).unwrap();
    // Until the verdict is in the log: unshare's own complaint (stderr) may come first.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let verdict = || {
        let log = crate::support::log_text(&h.log_path);
        log.contains("blocked") || log.contains("unconfined")
    };
    while !verdict() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        crate::support::log_text(&h.log_path).contains("blocked"),
        "{}",
        crate::support::log_text(&h.log_path)
    );
    let (code, _, err) = env
        .runtime
        .exec(&h.id, &exec_cfg(&["unshare", "-U", "true"]))
        .unwrap()
        .collect()
        .unwrap();
    assert_ne!(
        code,
        Some(0),
        "exec must be filtered too: {}",
        String::from_utf8_lossy(&err)
    );
    // fork/clone without namespace flags still works under the filter.
    let (code, out, _) = env
        .runtime
        .exec(&h.id, &exec_cfg(&["sh", "-c", "echo $(echo nested)"]))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!((code, out.as_slice()), (Some(0), &b"nested\n"[..]));
}

#[test]
fn attach_streams_stdin_and_stdout_until_exit() {
    let mut env = TestEnv::new("attach");
    let mut cfg = TestEnv::config(&["cat"]);
    cfg.open_stdin = true;
    let h = env.create(&cfg);
    let mut s = env.runtime.attach(&h.id, true, true, true).unwrap();
    env.runtime.start(&h.id).unwrap();
    s.write_stdin(b"hello\n").unwrap();
    s.close_stdin().unwrap();
    let mut out = Vec::new();
    let mut exit = None;
    while let Some(frame) = s.next_frame().unwrap() {
        match frame {
            Frame::Stdout(b) => out.extend(b),
            Frame::Stderr(_) => {}
            Frame::Exit(e) => exit = Some(e.exit_code),
        }
    }
    assert_eq!((out.as_slice(), exit), (&b"hello\n"[..], Some(0)));
    assert_eq!(crate::support::log_text(&h.log_path), "hello\n");
}

#[test]
fn tty_containers_get_a_terminal_that_resizes() {
    let mut env = TestEnv::new("tty");
    let mut cfg = TestEnv::config(&["sh", "-c", "tty; stty size"]);
    cfg.tty = true;
    let h = env.create(&cfg);
    env.runtime.resize(&h.id, 100, 40, None).unwrap();
    env.runtime.start(&h.id).unwrap();
    assert_eq!(env.runtime.wait(&h.id, None).unwrap().exit_code, 0);
    let out = crate::support::log_text(&h.log_path);
    assert!(
        out.starts_with("/dev/pts/") && out.contains("40 100"),
        "{out:?}"
    );
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let mut env = TestEnv::new("pause");
    let h = env.create(&TestEnv::config(&["sleep", "30"]));
    env.runtime.start(&h.id).unwrap();
    env.runtime.pause(&h.id).unwrap();
    assert_eq!(env.runtime.state(&h.id).unwrap().status, Status::Paused);
    assert!(
        env.runtime
            .kill(&h.id, 15)
            .unwrap_err()
            .to_string()
            .contains("unpause")
    );
    env.runtime.resume(&h.id).unwrap();
    assert_eq!(env.runtime.state(&h.id).unwrap().status, Status::Running);
    env.runtime.kill(&h.id, 9).unwrap();
    let exit = env
        .runtime
        .wait(&h.id, Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(exit.exit_code, 137);
    assert!(env.runtime.delete(&h.id, false).is_ok());
}
