//! The bridge as production runs it with both ends secured: it reads TELEMETRY from a
//! server that checks a `.creds` file (a real user JWT, operator mode) over TLS with the
//! user's CA, and exports over HTTPS to a receiver whose certificate that CA signed, with
//! an authorization header on every request. Without the CA the receiver is not trusted
//! and nothing is lost: the records wait on the stream for a bridge that trusts it. No
//! secret (the header's value, the NKey seed) appears in anything the bridge prints.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dagnats_observe::nats::{NatsAuth, NatsOptions, TlsOptions};
use dagnats_observe::{CollectorOptions, Context, SpanOptions, Telemetry};
use support::*;
use testkit::auth::{write_cases, AuthCase};
use testkit::NatsServer;

const N: usize = 300;
const BEARER: &str = "Bearer otlp-secret-4e7d";

fn start_bridge(
    nats_url: &str,
    creds: &str,
    dir: &Path,
    receiver: &Receiver,
    trust_receiver: bool,
    log: &Path,
) -> Child {
    let ca = dir.join("ca.pem");
    let mut command = Command::new(env!("CARGO_BIN_EXE_dagnats"));
    command
        .args(["otlp-bridge", "--nats-url", nats_url, "--nats-creds", creds, "--nats-tls-required"])
        .arg("--nats-tls-ca")
        .arg(&ca)
        .args(["--endpoint", &receiver.base_url(), "--header", &format!("authorization={BEARER}")])
        .args(["--flush-interval", "200ms", "--max-backoff", "500ms", "--stats-interval", "0s"]);
    if trust_receiver {
        command.arg("--certificate").arg(&ca);
    }
    command
        .env("RUST_LOG", "debug")
        .env_remove("NATS_URL")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_CERTIFICATE")
        .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(log).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .expect("start the dagnats binary")
}

fn nkey_seed_of(creds_file: &str) -> String {
    let text = std::fs::read_to_string(creds_file).unwrap();
    text.lines().find(|l| l.starts_with("SU")).expect("a user seed").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creds_and_tls_to_nats_https_and_a_header_to_the_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let cases = write_cases(dir.path());
    let case = |name: &str| -> AuthCase { cases.iter().find(|c| c.name == name).unwrap().clone() };
    // The operator-mode server of the credentials case, over the TLS case's certificate.
    let mut args = case("credentials_file").server_args;
    args.extend(case("tls_ca_file").server_args);
    let nats = NatsServer::start_with_args(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let creds = case("credentials_file").connect["credentials_file"].as_str().unwrap().to_owned();

    // A worker publishes through the core with the same credentials.
    let mut nats_options = NatsOptions::new(nats.url()).auth(NatsAuth::CredentialsFile(creds.clone().into()));
    nats_options.tls = TlsOptions { required: true, ca_file: Some(dir.path().join("ca.pem")), ..TlsOptions::default() };
    let worker = tokio::task::spawn_blocking(move || {
        let tel = Telemetry::connect(
            CollectorOptions { nats: nats_options, ..CollectorOptions::default() }.service("secured"),
        )
        .expect("the worker connects");
        for i in 0..N {
            let (_, span) = tel.tracer.start(&Context::new(), format!("op-{i}"), SpanOptions::new());
            drop(span);
        }
        tel.flush(Duration::from_secs(20)).expect("the stream took every span");
    });
    worker.await.unwrap();

    let receiver = Receiver::start_https(&dir.path().join("server.pem"), &dir.path().join("server.key")).await;

    // Not trusting the receiver's CA: handshakes fail, nothing is accepted.
    let untrusting_log = dir.path().join("untrusting.log");
    let untrusting = start_bridge(&nats.url(), &creds, dir.path(), &receiver, false, &untrusting_log);
    eventually("the untrusting bridge tried the receiver", || receiver.handshake_failures() >= 2).await;
    stop_with_sigterm(untrusting);
    assert_eq!(receiver.spans().len(), 0, "no request got through without the CA");
    let untrusting_output = printed(&untrusting_log);
    assert!(untrusting_output.contains("certificate"), "the cause is named: {untrusting_output}");

    // Trusting it: every span arrives, each request with the header.
    let trusting_log = dir.path().join("trusting.log");
    let trusting = start_bridge(&nats.url(), &creds, dir.path(), &receiver, true, &trusting_log);
    eventually("every span at the receiver", || span_names(&receiver).len() == N).await;
    stop_with_sigterm(trusting);
    let requests = receiver.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.authorization == BEARER), "every export carries the header");
    assert!(receiver.spans().iter().all(|s| s.service == "secured"));

    let seed = nkey_seed_of(&creds);
    for output in [untrusting_output, printed(&trusting_log)] {
        assert!(!output.contains("otlp-secret-4e7d"), "the header's value leaked: {output}");
        assert!(!output.contains(&seed), "the NKey seed leaked: {output}");
    }
}

fn span_names(receiver: &Receiver) -> std::collections::HashSet<String> {
    receiver.spans().into_iter().map(|s| s.span.name).collect()
}
