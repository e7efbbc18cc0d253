//! Authentication and TLS to a real `nats-server` (issue #9, finding 5): a client
//! without the right credentials or certificate is refused, at once and with an error
//! naming the flag to set; one with them gets a working bus.

use std::time::Duration;

use berth_bus::{Bus, BusError, Message, NatsBus, NatsCredentials, NatsOptions, NatsTls, Secret};
use berth_testkit::{NatsServer, TestPki};
use futures::StreamExt;

/// Long enough never to fire on a healthy machine; it bounds a failing test.
const PATIENCE: Duration = Duration::from_secs(10);

fn user(name: &str, password: &str) -> NatsOptions {
    NatsOptions {
        credentials: NatsCredentials::UserPassword {
            user: name.to_owned(),
            password: Secret::new(password),
        },
        tls: NatsTls::default(),
    }
}

async fn connect(url: &str, options: &NatsOptions) -> Result<NatsBus, BusError> {
    // A refusal must come at once, not after the retry window for an absent server.
    tokio::time::timeout(PATIENCE, NatsBus::connect_with(url, options))
        .await
        .expect("connect answers within the deadline")
}

/// The bus works: a message published comes back to a subscriber.
async fn round_trip(bus: &NatsBus) {
    let mut sub = bus.subscribe("t.auth").await.unwrap();
    bus.publish(Message::new("t.auth", "hello")).await.unwrap();
    let m = tokio::time::timeout(PATIENCE, sub.next())
        .await
        .expect("a message within the deadline")
        .expect("subscription open");
    assert_eq!(m.payload, "hello");
}

fn refused(result: Result<NatsBus, BusError>, what: &str) -> String {
    match result {
        Err(e @ BusError::Auth { .. }) => e.to_string(),
        Err(e) => panic!("{what}: refused for the wrong reason: {e}"),
        Ok(_) => panic!("{what}: connected"),
    }
}

#[tokio::test]
async fn user_and_password_are_required_and_checked() {
    let server =
        NatsServer::with_config(r#"authorization { user: berth, password: "right-horse" }"#);

    let message = refused(
        connect(server.url(), &NatsOptions::default()).await,
        "no credentials",
    );
    assert!(
        message.contains("--nats-user") && message.contains("--nats-creds"),
        "the error names the flags to use: {message}"
    );
    let message = refused(
        connect(server.url(), &user("berth", "wrong-horse")).await,
        "wrong password",
    );
    assert!(
        !message.contains("wrong-horse"),
        "the password is not echoed: {message}"
    );
    refused(
        connect(server.url(), &user("mallory", "right-horse")).await,
        "wrong user",
    );

    let bus = connect(server.url(), &user("berth", "right-horse"))
        .await
        .expect("the right user and password connect");
    round_trip(&bus).await;
}

#[tokio::test]
async fn a_token_is_required_and_checked() {
    let server = NatsServer::with_config(r#"authorization { token: "t0ken-abc" }"#);
    let token = |t: &str| NatsOptions {
        credentials: NatsCredentials::Token(Secret::new(t)),
        tls: NatsTls::default(),
    };
    let message = refused(
        connect(server.url(), &NatsOptions::default()).await,
        "no token",
    );
    assert!(message.contains("--nats-token-file"), "{message}");
    refused(
        connect(server.url(), &token("t0ken-xyz")).await,
        "wrong token",
    );
    let bus = connect(server.url(), &token("t0ken-abc"))
        .await
        .expect("the right token connects");
    round_trip(&bus).await;
}

#[tokio::test]
async fn mutual_tls_admits_only_clients_with_a_certificate_of_the_ca() {
    let pki = TestPki::new();
    let server = NatsServer::with_config(&format!(
        "tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true, timeout: 5 }}",
        pki.arg("server.pem"),
        pki.arg("server-key.pem"),
        pki.arg("ca.pem"),
    ));
    let url = server.tls_url();
    let tls = |client: Option<&str>| NatsOptions {
        credentials: NatsCredentials::None,
        tls: NatsTls {
            ca: Some(pki.path("ca.pem")),
            client: client.map(|c| {
                (
                    pki.path(&format!("{c}.pem")),
                    pki.path(&format!("{c}-key.pem")),
                )
            }),
        },
    };

    let tls_refused = |result: Result<NatsBus, BusError>, what: &str| match result {
        Err(e @ BusError::Tls { .. }) => e.to_string(),
        Err(e) => panic!("{what}: refused for the wrong reason: {e}"),
        Ok(_) => panic!("{what}: connected"),
    };
    let message = tls_refused(
        connect(&url, &NatsOptions::default()).await,
        "a server certificate of an unknown CA",
    );
    assert!(message.contains("--nats-tlscacert"), "{message}");
    let message = tls_refused(connect(&url, &tls(None)).await, "no client certificate");
    assert!(message.contains("--nats-tlscert"), "{message}");
    tls_refused(
        connect(&url, &tls(Some("rogue"))).await,
        "another CA's client certificate",
    );

    let bus = connect(&url, &tls(Some("client")))
        .await
        .expect("a client certificate of the CA connects");
    round_trip(&bus).await;
}
