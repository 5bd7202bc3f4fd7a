//! The collector connects with user/password, a token, an NKey, a `.creds` file (a real
//! user JWT in an operator-mode server) and over TLS with a CA given by the user: the
//! shared cases of `testkit::auth`, which the Python, Node and C tests run too. Each
//! wrong way to connect is a clear error that names the cause and never carries the
//! secret.

use std::path::PathBuf;
use std::time::Duration;

use dagnats_observe::nats::{NatsAuth, NatsOptions, TlsOptions};
use dagnats_observe::{CollectorOptions, Context, Error, SpanOptions, Telemetry};
use serde_json::{Map, Value};
use testkit::auth::{write_cases, AuthCase};
use testkit::NatsServer;

/// The core's options for a case's `connect`/`wrong` keys.
fn options(url: String, keys: &Map<String, Value>) -> CollectorOptions {
    let text = |k: &str| keys.get(k).and_then(Value::as_str).map(str::to_owned);
    let auth = if let Some(user) = text("user") {
        NatsAuth::UserPassword { user, password: text("password").unwrap_or_default() }
    } else if let Some(token) = text("token") {
        NatsAuth::Token(token)
    } else if let Some(seed) = text("nkey") {
        NatsAuth::NKey(seed)
    } else if let Some(path) = text("credentials_file") {
        NatsAuth::CredentialsFile(path.into())
    } else {
        NatsAuth::None
    };
    let tls = TlsOptions {
        required: keys.get("tls_required").and_then(Value::as_bool).unwrap_or(false),
        ca_file: text("tls_ca_file").map(PathBuf::from),
        ..TlsOptions::default()
    };
    let mut nats = NatsOptions::new(url).auth(auth);
    nats.tls = tls;
    CollectorOptions { nats, ..CollectorOptions::default() }.service("svc")
}

/// Connects, publishes one span, and checks the stream acknowledged it.
fn publishes(o: CollectorOptions) {
    let tel = Telemetry::connect(o).expect("connects");
    let (_, span) = tel.tracer.start(&Context::new(), "secured", SpanOptions::new());
    drop(span);
    tel.flush(Duration::from_secs(10)).expect("delivered");
    assert_eq!(tel.collector_stats().unwrap().published, 1);
}

fn refused(o: CollectorOptions, case: &AuthCase) {
    match Telemetry::connect(o) {
        Err(Error::Connect(message)) => {
            assert!(!message.contains(&case.secret), "{}: the secret leaked: {message}", case.name);
            assert!(message.contains(&case.refusal), "{}: the cause is not named: {message}", case.name);
        }
        other => panic!("{}: expected a connect error, got {other:?}", case.name),
    }
}

fn run(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let case = write_cases(dir.path()).into_iter().find(|c| c.name == name).expect("a shared case");
    let server = NatsServer::start_with_args(&case.server_args());
    refused(options(server.url(), &case.wrong), &case);
    publishes(options(server.url(), &case.connect));
}

#[test]
fn user_password() {
    run("user_password");
}

#[test]
fn token() {
    run("token");
}

#[test]
fn nkey() {
    run("nkey");
}

#[test]
fn credentials_file() {
    run("credentials_file");
}

#[test]
fn tls_with_the_users_ca() {
    run("tls_ca_file");
}

#[test]
fn a_missing_credentials_file_is_a_config_error_naming_the_path() {
    let server = NatsServer::start();
    let mut keys = Map::new();
    keys.insert("credentials_file".into(), "/nonexistent/dagnats.creds".into());
    match Telemetry::connect(options(server.url(), &keys)) {
        Err(Error::Config(message)) => assert!(message.contains("/nonexistent/dagnats.creds"), "{message}"),
        other => panic!("expected a config error, got {other:?}"),
    }
}
