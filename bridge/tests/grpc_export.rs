//! OTLP/gRPC through the real bridge to a real tonic receiver serving
//! opentelemetry-proto's collector services: spans, logs and metrics arrive exactly once;
//! a receiver answering UNAVAILABLE, then RESOURCE_EXHAUSTED with a RetryInfo, loses
//! nothing; headers arrive as metadata; `https://` works with the test's CA (and a client
//! certificate), and without the CA nothing is accepted and nothing lost. The binary is
//! driven by `--protocol grpc` and by OTEL_EXPORTER_OTLP_PROTOCOL.

mod support;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dagnats_bridge::cli::{Compression, Protocol};
use dagnats_bridge::{Config, Signal};
use support::grpc_receiver::GrpcReceiver;
use support::*;
use testkit::NatsServer;
use tonic::Code;

/// The bridge's test settings, every signal over gRPC to `receiver`.
fn grpc_config(nats_url: &str, receiver: &GrpcReceiver) -> Config {
    let mut c = Config::new(nats_url, "http://127.0.0.1:9");
    for s in Signal::ALL {
        let e = c.endpoint_mut(s);
        e.protocol = Protocol::Grpc;
        e.url = receiver.url();
    }
    c.flush_interval = Duration::from_millis(200);
    c.stats_interval = Duration::ZERO;
    c.initial_backoff = Duration::from_millis(100);
    c.max_backoff = Duration::from_secs(1);
    c
}

fn log_json(i: u64) -> String {
    format!(
        r#"{{"level":"warn","message":"grpc log {i}","service":"engine","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","fields":{{"i":{i}}},"timestamp":"2026-11-24T10:30:02.000001Z"}}"#
    )
}

fn metric_json(i: u64) -> String {
    format!(
        r#"{{"name":"grpc.test.m{i}","type":"gauge","value":{i},"tags":{{"queue":"default"}},"service":"engine","timestamp":"2026-11-24T10:30:03.5Z"}}"#
    )
}

fn log_body(l: &support::receiver::ReceivedLog) -> String {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match l.log.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

fn counts<T: std::hash::Hash + Eq>(items: impl IntoIterator<Item = T>) -> HashMap<T, usize> {
    let mut m = HashMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

fn span_counts(receiver: &GrpcReceiver) -> HashMap<Vec<u8>, usize> {
    counts(receiver.spans().into_iter().map(|s| s.span.span_id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_logs_and_metrics_arrive_exactly_once_over_grpc() {
    const SPANS: u64 = 300;
    const LOGS: u64 = 40;
    const METRICS: u64 = 20;
    let nats = NatsServer::start();
    let js = jetstream(&nats.url()).await;
    let receiver = GrpcReceiver::start().await;
    publish_spans(&js, 0..SPANS, "grpc-worker").await;
    for i in 0..LOGS {
        publish(&js, "telemetry.logs.engine.warn", log_json(i)).await;
    }
    for i in 0..METRICS {
        publish(&js, &format!("telemetry.metrics.engine.grpc.test.m{i}"), metric_json(i)).await;
    }

    let mut config = grpc_config(&nats.url(), &receiver);
    config.endpoint_mut(Signal::Spans).headers.set("x-tenant", "t-7");
    let bridge = RunningBridge::start(config);
    eventually("every span, log and metric at the receiver", || {
        receiver.spans().len() as u64 >= SPANS
            && receiver.logs().len() as u64 >= LOGS
            && receiver.metrics().iter().filter(|m| m.metric.name.starts_with("grpc.test.m")).count() as u64 >= METRICS
    })
    .await;
    // Anything sent twice would have had time to arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    bridge.stop().await;

    let spans = span_counts(&receiver);
    assert_eq!(spans.len() as u64, SPANS, "every span id");
    assert!((0..SPANS).all(|i| spans.get(&span_id(i)) == Some(&1)), "each span exactly once");
    assert!(receiver.spans().iter().all(|s| s.service == "grpc-worker"));
    let logs = counts(receiver.logs().iter().map(log_body));
    assert_eq!(logs, (0..LOGS).map(|i| (format!("grpc log {i}"), 1)).collect::<HashMap<_, _>>());
    let metrics =
        counts(receiver.metrics().into_iter().map(|m| m.metric.name).filter(|n| n.starts_with("grpc.test.m")));
    assert_eq!(metrics, (0..METRICS).map(|i| (format!("grpc.test.m{i}"), 1)).collect::<HashMap<_, _>>());

    let requests = receiver.requests();
    let services: HashSet<_> = requests.iter().map(|r| r.service).collect();
    assert_eq!(services, HashSet::from(["spans", "logs", "metrics"]), "each signal on its own service");
    assert!(requests.iter().all(|r| r.code == Code::Ok));
    // gzip by default, as over HTTP; the header only on the signal it was set for.
    assert!(requests.iter().all(|r| r.get("grpc-encoding") == "gzip"), "{requests:?}");
    assert!(requests.iter().filter(|r| r.service == "spans").all(|r| r.get("x-tenant") == "t-7"));
    assert!(requests.iter().filter(|r| r.service != "spans").all(|r| r.get("x-tenant").is_empty()));
    assert!(requests.iter().all(|r| r.get("user-agent").contains("dagnats-bridge/")));
    assert!(dead_letters(&nats.url()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_then_resource_exhausted_with_retry_info_then_ok_loses_nothing() {
    const N: u64 = 200;
    let nats = NatsServer::start();
    let js = jetstream(&nats.url()).await;
    let receiver = GrpcReceiver::start().await;
    receiver.set_status(Code::Unavailable, "collector restarting");
    publish_spans(&js, 0..N, "flaky").await;

    let mut config = grpc_config(&nats.url(), &receiver);
    config.endpoint_mut(Signal::Spans).compression = Compression::None;
    let bridge = RunningBridge::start(config);
    eventually("the bridge tried and got UNAVAILABLE a few times", || receiver.answered(Code::Unavailable) >= 3).await;
    assert!(receiver.spans().is_empty());
    receiver.set_status_with_retry_info(Code::ResourceExhausted, Duration::from_millis(200));
    let before = receiver.answered(Code::ResourceExhausted);
    eventually("RESOURCE_EXHAUSTED with RetryInfo answered and retried", || {
        receiver.answered(Code::ResourceExhausted) >= before + 2
    })
    .await;
    assert!(receiver.spans().is_empty());
    receiver.set_status(Code::Ok, "");
    eventually("every span after the receiver recovered", || span_counts(&receiver).len() as u64 == N).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let snap = bridge.stats.snapshot();
    bridge.stop().await;

    let spans = span_counts(&receiver);
    assert!((0..N).all(|i| spans.get(&span_id(i)) == Some(&1)), "each span exactly once");
    assert!(snap.signal(Signal::Spans).retried > 0, "the failures were retried");
    assert_eq!(snap.total().dead_lettered, 0);
    assert!(dead_letters(&nats.url()).await.is_empty(), "nothing dead-lettered");
    // Uncompressed when asked.
    assert!(receiver.requests().iter().all(|r| r.get("grpc-encoding").is_empty()));
}

/// A client certificate signed by the test's CA, for mutual TLS.
fn write_client_certificate(dir: &Path) {
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "openssl {args:?}");
    };
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=dagnats bridge",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
    ]);
    // Version 3 with a client-auth usage: rustls refuses version 1 certificates.
    std::fs::write(dir.join("client.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "client.ext",
        "-out",
        "client.pem",
    ]);
}

const SECRET: &str = "Bearer grpc-secret-91f3";

fn start_binary_grpc(
    nats_url: &str,
    receiver: &GrpcReceiver,
    dir: &Path,
    trust: bool,
    log: &Path,
    by_env: bool,
) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dagnats"));
    command
        .args(["otlp-bridge", "--nats-url", nats_url, "--endpoint", &receiver.url()])
        .args(["--header", &format!("authorization={SECRET}")])
        .args(["--flush-interval", "200ms", "--max-backoff", "500ms", "--stats-interval", "0s"])
        .arg("--client-certificate")
        .arg(dir.join("client.pem"))
        .arg("--client-key")
        .arg(dir.join("client.key"));
    if trust {
        command.arg("--certificate").arg(dir.join("ca.pem"));
    }
    if by_env {
        command.env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    } else {
        command.args(["--protocol", "grpc"]).env_remove("OTEL_EXPORTER_OTLP_PROTOCOL");
    }
    command
        .env("RUST_LOG", "debug")
        .env_remove("NATS_URL")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .env_remove("OTEL_EXPORTER_OTLP_CERTIFICATE")
        .env_remove("OTEL_EXPORTER_OTLP_HEADERS")
        .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(log).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .expect("start the dagnats binary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_tests_ca_and_a_client_certificate_and_the_header_as_metadata() {
    const N: u64 = 150;
    let dir = tempfile::tempdir().unwrap();
    testkit::auth::write_certificates(dir.path());
    write_client_certificate(dir.path());
    let nats = NatsServer::start();
    let js = jetstream(&nats.url()).await;
    publish_spans(&js, 0..N, "secured").await;
    let receiver = GrpcReceiver::start_tls(
        &dir.path().join("server.pem"),
        &dir.path().join("server.key"),
        Some(&dir.path().join("ca.pem")),
    )
    .await;
    assert!(receiver.url().starts_with("https://"));

    // Not trusting the receiver's CA: the handshake fails, nothing is accepted, the
    // spans stay on the stream.
    let untrusting_log = dir.path().join("untrusting.log");
    let mut untrusting = start_binary_grpc(&nats.url(), &receiver, dir.path(), false, &untrusting_log, false);
    eventually("the untrusting bridge tried the receiver twice and said why it failed", || {
        printed(&untrusting_log).matches("UnknownIssuer").count() >= 2
    })
    .await;
    assert!(
        untrusting.try_wait().unwrap().is_none(),
        "it keeps running, holding the spans: {}",
        printed(&untrusting_log)
    );
    stop_with_sigterm(untrusting);
    assert!(receiver.requests().is_empty(), "no request got through without the CA");
    let untrusting_output = printed(&untrusting_log);

    // Trusting it (protocol from OTEL_EXPORTER_OTLP_PROTOCOL this time): every span
    // arrives once, each request with the header as metadata.
    let trusting_log = dir.path().join("trusting.log");
    let trusting = start_binary_grpc(&nats.url(), &receiver, dir.path(), true, &trusting_log, true);
    let deadline = std::time::Instant::now() + PATIENCE;
    while span_counts(&receiver).len() as u64 != N {
        assert!(
            std::time::Instant::now() < deadline,
            "not every span arrived; the bridge said:\n{}",
            printed(&trusting_log)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_with_sigterm(trusting);
    let spans = span_counts(&receiver);
    assert!((0..N).all(|i| spans.get(&span_id(i)) == Some(&1)), "each span exactly once");
    let requests = receiver.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.get("authorization") == SECRET), "every export carries the header");
    assert!(dead_letters(&nats.url()).await.is_empty());
    for output in [untrusting_output, printed(&trusting_log)] {
        assert!(!output.contains("grpc-secret-91f3"), "the header's value leaked: {output}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_certificate_a_mutual_tls_receiver_accepts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    testkit::auth::write_certificates(dir.path());
    let receiver = GrpcReceiver::start_tls(
        &dir.path().join("server.pem"),
        &dir.path().join("server.key"),
        Some(&dir.path().join("ca.pem")),
    )
    .await;
    let mut config = Config::new("nats://127.0.0.1:9", "http://127.0.0.1:9");
    for s in Signal::ALL {
        config.endpoint_mut(s).protocol = Protocol::Grpc;
        config.endpoint_mut(s).url = receiver.url();
        config.endpoint_mut(s).timeout = Duration::from_secs(10);
    }
    config.otlp_tls.ca_file = Some(dir.path().join("ca.pem"));
    let exporter = dagnats_bridge::export::Exporter::new(&config).unwrap();
    let request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::default();
    let outcome = exporter.send(Signal::Spans, exporter.encode(Signal::Spans, &request)).await;
    assert!(
        matches!(outcome, dagnats_bridge::export::Outcome::Retryable { unreachable: true, .. }),
        "a refused handshake is a transport failure: {outcome:?}"
    );
    assert!(receiver.requests().is_empty());
}
