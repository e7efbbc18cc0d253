use clap::Parser;

use super::*;

#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    bus: BusArgs,
}

fn parse(args: &[&str]) -> Result<BusArgs, clap::Error> {
    Flags::try_parse_from(std::iter::once("berth-test").chain(args.iter().copied())).map(|f| f.bus)
}

#[test]
fn a_password_file_gives_its_first_line_and_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("password");
    std::fs::write(&file, "s3cret-line\nignored\n").unwrap();
    let file = file.display().to_string();
    let args = parse(&[
        "--nats",
        "nats://n:4222",
        "--nats-user",
        "runner",
        "--nats-password-file",
        &file,
    ])
    .unwrap();
    let options = args.nats_options().unwrap();
    assert_eq!(
        options.credentials,
        NatsCredentials::UserPassword {
            user: "runner".into(),
            password: Secret::new("s3cret-line"),
        }
    );
    assert!(!format!("{options:?}").contains("s3cret"));

    std::fs::write(&file, "\n").unwrap();
    let err = args.nats_options().unwrap_err().to_string();
    assert!(
        err.contains("--nats-password-file") && err.contains("empty"),
        "{err}"
    );
}

#[test]
fn credentials_need_nats_and_exclude_each_other() {
    assert!(
        parse(&["--nats-user", "u"]).is_err(),
        "credentials without --nats"
    );
    assert!(
        parse(&[
            "--nats",
            "nats://n:4222",
            "--nats-user",
            "u",
            "--nats-token-file",
            "/t"
        ])
        .is_err(),
        "two kinds of credentials"
    );
    assert!(
        parse(&["--nats", "nats://n:4222", "--nats-tlscert", "/c"]).is_err(),
        "a client certificate without its key"
    );
    let args = parse(&["--nats", "nats://n:4222", "--nats-user", "u"]).unwrap();
    let err = args.nats_options().unwrap_err().to_string();
    assert!(err.contains("BERTH_NATS_PASSWORD"), "{err}");
}
