//! Connecting: a server that is down is waited for; a server that refuses us is an error
//! that names the cause and carries no secret.

use dagnats_observe::nats::{NatsAuth, NatsOptions, TlsOptions};
use dagnats_observe::{CollectorOptions, Error, Telemetry};
use testkit::NatsServer;

fn options(url: String) -> CollectorOptions {
    CollectorOptions { nats: NatsOptions::new(url), ..CollectorOptions::default() }.service("svc")
}

#[test]
fn tls_required_against_a_plain_server_is_an_error() {
    let server = NatsServer::start();
    let mut o = options(server.url());
    o.nats.tls = TlsOptions { required: true, ..TlsOptions::default() };
    match Telemetry::connect(o) {
        Err(Error::Connect(message)) => assert!(message.contains("127.0.0.1"), "{message}"),
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[test]
fn wrong_password_is_an_error_without_the_password() {
    let server = NatsServer::start_with_args(&["--user", "worker", "--pass", "right-secret"]);
    let mut o = options(server.url());
    o.nats.set_auth(NatsAuth::UserPassword { user: "worker".into(), password: "wrong-secret".into() });
    match Telemetry::connect(o) {
        Err(Error::Connect(message)) => {
            assert!(message.contains("authentication") || message.contains("authorization"), "{message}");
            assert!(!message.contains("wrong-secret"), "{message}");
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    let mut ok = options(server.url());
    ok.nats.set_auth(NatsAuth::UserPassword { user: "worker".into(), password: "right-secret".into() });
    Telemetry::connect(ok).expect("the right password connects");
}

#[test]
fn a_server_that_is_down_is_not_an_error() {
    let server = NatsServer::reserved();
    assert!(Telemetry::connect(options(server.url())).is_ok());
}
