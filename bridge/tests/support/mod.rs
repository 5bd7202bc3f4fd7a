//! Shared by the bridge's integration tests: the receiver, a bridge running in a task,
//! publishing helpers and a bounded wait.

#![allow(dead_code)]

pub mod grpc_receiver;
pub mod receiver;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use dagnats_bridge::settle::DLQ_STREAM;
use dagnats_bridge::{Bridge, Config, Error, Stats};
use dagnats_observe::collector::stream::ensure_stream;
pub use receiver::Receiver;
use testkit::StoredMessage;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The longest any test waits for something that should happen: a hang guard, not a
/// timing assumption.
pub const PATIENCE: Duration = Duration::from_secs(45);

/// A configuration for tests: short flush interval and backoffs, no periodic stats.
pub fn test_config(nats_url: &str, receiver: &Receiver) -> Config {
    let mut c = Config::new(nats_url, &receiver.base_url());
    c.flush_interval = Duration::from_millis(200);
    c.stats_interval = Duration::ZERO;
    c.initial_backoff = Duration::from_millis(100);
    c.max_backoff = Duration::from_secs(1);
    c.shutdown_grace = Duration::from_millis(200);
    c
}

/// A bridge running in a task of the test's runtime.
pub struct RunningBridge {
    pub stats: Arc<Stats>,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), Error>>,
}

impl RunningBridge {
    pub fn start(config: Config) -> RunningBridge {
        let bridge = Bridge::new(config);
        let stats = bridge.stats();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(bridge.run(async {
            let _ = stopped.await;
        }));
        RunningBridge { stats, stop: Some(stop), handle }
    }

    /// Signals shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.handle)
            .await
            .expect("bridge did not stop")
            .expect("bridge task panicked")
            .expect("bridge failed");
    }
}

/// A `dagnats` process started by a test, killed when dropped so that a failing test
/// leaves no bridge running behind it.
pub struct BridgeProcess(pub std::process::Child);

impl std::ops::Deref for BridgeProcess {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for BridgeProcess {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for BridgeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `dagnats otlp-bridge` binary towards `receiver`, with `extra` flags; its
/// output is discarded.
pub fn start_binary(nats_url: &str, receiver: &Receiver, extra: &[&str]) -> BridgeProcess {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_dagnats"))
        .args([
            "otlp-bridge",
            "--nats-url",
            nats_url,
            "--endpoint",
            &receiver.base_url(),
            "--stats-interval",
            "0s",
            "--max-backoff",
            "1s",
        ])
        .args(extra)
        .env("RUST_LOG", std::env::var("BRIDGE_LOG").unwrap_or_else(|_| "warn".into()))
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stdout(std::process::Stdio::null())
        // BRIDGE_OUTPUT=1 shows the bridge's own log when a test needs looking into.
        .stderr(if std::env::var_os("BRIDGE_OUTPUT").is_some() {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        })
        .spawn()
        .expect("start the dagnats binary");
    BridgeProcess(child)
}

/// Stops a `dagnats` process as an operator does, with SIGTERM, and waits for it.
pub fn stop_with_sigterm(mut bridge: std::process::Child) {
    std::process::Command::new("kill").args(["-TERM", &bridge.id().to_string()]).status().unwrap();
    bridge.wait().unwrap();
}

/// What a `dagnats` process printed to `log` (stderr) and `log` with extension `out`
/// (stdout).
pub fn printed(log: &std::path::Path) -> String {
    std::fs::read_to_string(log).unwrap() + &std::fs::read_to_string(log.with_extension("out")).unwrap()
}

/// The value of one series (name and labels, exactly as written) in the Prometheus text
/// `text`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The bridge consumer's `(num_pending, num_ack_pending)`: messages not yet delivered,
/// and delivered but not settled; `(u64::MAX, usize::MAX)` while the consumer does not
/// exist yet.
pub async fn consumer_backlog(url: &str) -> (u64, usize) {
    let js = jetstream::new(async_nats::connect(url).await.expect("connect"));
    let stream = js.get_stream("TELEMETRY").await.expect("TELEMETRY");
    let Ok(mut c) = stream.get_consumer::<jetstream::consumer::pull::Config>("otlp-bridge").await else {
        return (u64::MAX, usize::MAX);
    };
    let info = c.info().await.expect("consumer info");
    (info.num_pending, info.num_ack_pending)
}

/// Waits until `check` holds, polling; panics with `what` after [`PATIENCE`].
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Like [`eventually`] with an async check.
pub async fn eventually_async<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// JetStream on `url`, with TELEMETRY made sure of.
pub async fn jetstream(url: &str) -> jetstream::Context {
    let js = jetstream::new(async_nats::connect(url).await.expect("connect"));
    ensure_stream(&js).await.expect("TELEMETRY");
    js
}

/// Publishes and waits for the stream's acknowledgement.
pub async fn publish(js: &jetstream::Context, subject: &str, body: impl Into<bytes::Bytes>) {
    js.publish(subject.to_owned(), body.into()).await.expect("publish").await.expect("stored");
}

/// A Go-style span record numbered `i`: its span id is `i + 1` in hex.
pub fn span_json(i: u64, service: &str) -> String {
    format!(
        r#"{{"trace_id":"{:032x}","span_id":"{:016x}","name":"step-{i}","service":"{service}","kind":"internal","start_time":"2026-11-24T10:30:00Z","end_time":"2026-11-24T10:30:00.5Z","duration_ms":500,"status":"ok","attributes":{{"run_id":"r-1","i":{i}}}}}"#,
        0xabc0_0000_0000_0000_0000_0000_0000_0000u128 + i as u128,
        i + 1
    )
}

/// The span id [`span_json`] gives span `i`.
pub fn span_id(i: u64) -> Vec<u8> {
    (i + 1).to_be_bytes().to_vec()
}

/// Publishes spans `range` as Go-style records.
pub async fn publish_spans(js: &jetstream::Context, range: std::ops::Range<u64>, service: &str) {
    for i in range {
        publish(js, &format!("telemetry.spans.{service}.r-1"), span_json(i, service)).await;
    }
}

/// How often each span id was received.
pub fn span_id_counts(receiver: &Receiver) -> HashMap<Vec<u8>, usize> {
    let mut counts = HashMap::new();
    for s in receiver.spans() {
        *counts.entry(s.span.span_id).or_insert(0) += 1;
    }
    counts
}

/// Every message in the dead-letter stream (none when it does not exist yet).
pub async fn dead_letters(url: &str) -> Vec<StoredMessage> {
    let js = jetstream::new(async_nats::connect(url).await.expect("connect"));
    if js.get_stream(DLQ_STREAM).await.is_err() {
        return Vec::new();
    }
    testkit::read_stream(url, DLQ_STREAM).await
}
