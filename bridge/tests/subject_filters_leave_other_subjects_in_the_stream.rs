//! `--subject` against a real nats-server and receiver: a bridge filtering on one
//! worker's spans exports those and no other service's, which stay in TELEMETRY
//! undelivered to its consumer (so never acknowledged) and are not dead-lettered: another
//! consumer still exports them. Restarted with other filters, the bridge updates its
//! existing consumer instead of keeping the old ones.

mod support;

use async_nats::jetstream::{self, consumer::pull};
use support::*;
use testkit::NatsServer;

/// The state of consumer `name`: its filters, then how many messages it delivered (its
/// consumer sequence), redelivered, has pending and has in flight.
async fn consumer_state(js: &jetstream::Context, name: &str) -> (Vec<String>, u64, usize, u64, usize) {
    let stream = js.get_stream("TELEMETRY").await.expect("TELEMETRY");
    let mut c = stream.get_consumer::<pull::Config>(name).await.expect("the consumer");
    let info = c.info().await.expect("consumer info");
    let filters = dagnats_bridge::consume::consumer_filters(&info.config);
    (filters, info.delivered.consumer_sequence, info.num_redelivered, info.num_pending, info.num_ack_pending)
}

/// The services of the spans received, sorted by span number (see [`span_json`]).
fn received(receiver: &Receiver) -> Vec<(u64, String)> {
    let mut v: Vec<(u64, String)> = receiver
        .spans()
        .into_iter()
        .map(|s| (u64::from_be_bytes(s.span.span_id.try_into().unwrap()) - 1, s.service))
        .collect();
    v.sort();
    v
}

/// Stops a bridge process with SIGTERM and waits for it.
fn stop(mut bridge: BridgeProcess) {
    std::process::Command::new("kill").args(["-TERM", &bridge.id().to_string()]).status().unwrap();
    assert!(bridge.wait().unwrap().success(), "the bridge stops cleanly on SIGTERM");
}

/// Spans `i` of `range`, even ones from the engine, odd ones from py-worker.
async fn publish_both(js: &jetstream::Context, range: std::ops::Range<u64>) {
    for i in range {
        let service = if i % 2 == 0 { "engine" } else { "py-worker" };
        publish(js, &format!("telemetry.spans.{service}.r-1"), span_json(i, service)).await;
    }
}

/// Waits until consumer `otlp-bridge` has nothing pending and nothing in flight.
async fn caught_up(js: &jetstream::Context) {
    eventually_async("the consumer caught up", || async {
        let (_, _, _, pending, in_flight) = consumer_state(js, "otlp-bridge").await;
        pending == 0 && in_flight == 0
    })
    .await;
}

/// A server whose TELEMETRY holds spans `0..n` of both services, and a receiver holding
/// those of py-worker, exported by a bridge given `--subject telemetry.spans.py-worker.>`
/// (stopped once its consumer caught up).
async fn py_worker_exported(n: u64) -> (NatsServer, Receiver, jetstream::Context) {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let js = jetstream(&nats.url()).await;
    publish_both(&js, 0..n).await;
    let bridge = start_binary(&nats.url(), &receiver, &["--subject", "telemetry.spans.py-worker.>"]);
    eventually("the py-worker spans exported", || receiver.spans().len() as u64 >= n / 2).await;
    caught_up(&js).await;
    stop(bridge);
    (nats, receiver, js)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_filtering_one_service_leaves_the_others_spans_in_the_stream() {
    let (nats, receiver, js) = py_worker_exported(10).await;

    let py: Vec<(u64, String)> = (0..10).filter(|i| i % 2 == 1).map(|i| (i, "py-worker".to_owned())).collect();
    assert_eq!(received(&receiver), py, "only py-worker's spans, each once");
    // The engine's messages were never delivered to the consumer (so never acknowledged):
    // it delivered five messages, each once.
    let (filters, delivered, redelivered, _, _) = consumer_state(&js, "otlp-bridge").await;
    assert_eq!(filters, ["telemetry.spans.py-worker.>"]);
    assert_eq!((delivered, redelivered), (5, 0));
    assert!(dead_letters(&nats.url()).await.is_empty(), "nothing dead-lettered");
    assert_eq!(js.get_stream("TELEMETRY").await.unwrap().info().await.unwrap().state.messages, 10);

    // They are still there for whoever wants them: a second consumer exports them.
    let engine =
        start_binary(&nats.url(), &receiver, &["--consumer", "engine-export", "--subject", "telemetry.spans.engine.>"]);
    eventually("the engine spans exported by the other consumer", || receiver.spans().len() >= 10).await;
    stop(engine);
    let every: Vec<(u64, String)> =
        (0..10).map(|i| (i, if i % 2 == 0 { "engine" } else { "py-worker" }.to_owned())).collect();
    assert_eq!(received(&receiver), every);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_filters_update_the_existing_consumer_from_its_position() {
    let (nats, receiver, js) = py_worker_exported(4).await;

    // Restarted with several filters through the variable: the consumer is updated, not
    // kept with its old filter, and keeps its position.
    let mut bridge = std::process::Command::new(env!("CARGO_BIN_EXE_dagnats"));
    bridge
        .args(["otlp-bridge", "--nats-url", &nats.url(), "--endpoint", &receiver.base_url(), "--stats-interval=0s"])
        .env("DAGNATS_BRIDGE_SUBJECTS", "telemetry.spans.engine.>, telemetry.logs.>")
        .env("RUST_LOG", "warn")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let bridge = BridgeProcess(bridge.spawn().unwrap());
    eventually_async("the consumer's filters updated", || async {
        consumer_state(&js, "otlp-bridge").await.0 == ["telemetry.logs.>", "telemetry.spans.engine.>"]
    })
    .await;
    publish_both(&js, 4..8).await;
    publish(&js, "telemetry.logs.engine.warn", include_str!("../../testdata/records/go-log.json")).await;
    eventually("the new engine spans and the log exported", || {
        receiver.spans().len() >= 4 && !receiver.logs().is_empty()
    })
    .await;
    caught_up(&js).await;
    stop(bridge);
    // After the change the engine's spans are exported and py-worker's are not. The
    // engine's spans stored before the first bridge went past them (0, 2) stay behind the
    // consumer's position: a filter change applies from there on, as the README says.
    let expected: Vec<(u64, String)> =
        [(1, "py-worker"), (3, "py-worker"), (4, "engine"), (6, "engine")].map(|(i, s)| (i, s.to_owned())).into();
    assert_eq!(received(&receiver), expected);
    assert_eq!(receiver.logs().len(), 1);
    assert!(dead_letters(&nats.url()).await.is_empty());
}
