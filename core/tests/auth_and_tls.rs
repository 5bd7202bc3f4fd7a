//! The collector connects with a token, an NKey, and over TLS with a CA given by the
//! user (certificates generated here with openssl); wrong credentials are a clear error
//! that names the cause and never carries the secret.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dagnats_observe::nats::{NatsAuth, NatsOptions, TlsOptions};
use dagnats_observe::{CollectorOptions, Context, Error, SpanOptions, Telemetry};
use testkit::NatsServer;

fn options(url: String, auth: NatsAuth) -> CollectorOptions {
    CollectorOptions { nats: NatsOptions::new(url).auth(auth), ..CollectorOptions::default() }.service("svc")
}

/// Connects, publishes one span, and checks the stream acknowledged it.
fn publishes(o: CollectorOptions) {
    let tel = Telemetry::connect(o).expect("connects");
    let (_, span) = tel.tracer.start(&Context::new(), "secured", SpanOptions::new());
    drop(span);
    tel.flush(Duration::from_secs(10)).expect("delivered");
    assert_eq!(tel.collector_stats().unwrap().published, 1);
}

fn refused(o: CollectorOptions, secret: &str) -> String {
    match Telemetry::connect(o) {
        Err(Error::Connect(message)) => {
            assert!(!message.contains(secret), "the secret leaked: {message}");
            message
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[test]
fn token() {
    let server = NatsServer::start_with_args(&["--auth", "tok-right-123"]);
    let message = refused(options(server.url(), NatsAuth::Token("tok-wrong-456".into())), "tok-wrong-456");
    assert!(message.contains("authentication") || message.contains("authorization"), "{message}");
    publishes(options(server.url(), NatsAuth::Token("tok-right-123".into())));
}

#[test]
fn nkey() {
    let user = nkeys::KeyPair::new_user();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nkey.conf");
    std::fs::write(&conf, format!("authorization {{ users = [ {{ nkey: {} }} ] }}\n", user.public_key())).unwrap();
    let server = NatsServer::start_with_args(&["-c", conf.to_str().unwrap()]);
    let stranger = nkeys::KeyPair::new_user().seed().unwrap();
    let message = refused(options(server.url(), NatsAuth::NKey(stranger.clone())), &stranger);
    assert!(message.contains("authentication") || message.contains("authorization"), "{message}");

    publishes(options(server.url(), NatsAuth::NKey(user.seed().unwrap())));
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl");
    assert!(status.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&status.stderr));
}

/// A CA, and a server certificate for 127.0.0.1 signed by it.
fn certificates(dir: &Path) {
    openssl(dir, &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=dagnats test CA", "-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    openssl(dir, &["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem"]);
}

#[test]
fn tls_with_the_users_ca() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    let server = NatsServer::start_with_args(&["--tls", "--tlscert", cert.to_str().unwrap(), "--tlskey", key.to_str().unwrap()]);

    // Without the CA the server's certificate cannot be trusted.
    let mut untrusted = options(server.url(), NatsAuth::None);
    untrusted.nats.tls = TlsOptions { required: true, ..TlsOptions::default() };
    let message = refused(untrusted, "-----BEGIN");
    assert!(message.contains("TLS") || message.contains("certificate"), "{message}");

    let mut trusted = options(server.url(), NatsAuth::None);
    trusted.nats.tls = TlsOptions { required: true, ca_file: Some(dir.path().join("ca.pem")), ..TlsOptions::default() };
    publishes(trusted);
}
