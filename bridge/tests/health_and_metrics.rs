//! The metrics address as Kubernetes and Prometheus use it: `/livez` answers while the
//! bridge runs; `/readyz` is 503 with the reason while NATS is unreachable or the
//! receiver is down or failing, and 200 once exports succeed; `/metrics` carries the
//! export latency and size histograms, the last successful export time, the consumer's
//! lag and the dead-letter stream's depth; other paths are 404. And the lag poller on its
//! own: its gauges follow the consumer, go stale (not wrong, not fatal) while NATS is
//! down, and come back with it.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dagnats_bridge::settle::DLQ_STREAM;
use dagnats_bridge::{lag, Stats};
use futures::StreamExt;
use support::*;
use testkit::NatsServer;
use tokio_util::sync::CancellationToken;

/// `(status, body)` of a request, `(0, error)` when there was no answer.
async fn request(http: &reqwest::Client, method: reqwest::Method, addr: SocketAddr, path: &str) -> (u16, String) {
    match http.request(method, format!("http://{addr}{path}")).timeout(Duration::from_secs(10)).send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

async fn get(http: &reqwest::Client, addr: SocketAddr, path: &str) -> (u16, String) {
    request(http, reqwest::Method::GET, addr, path).await
}

/// Waits until `/readyz` answers `status` with a body containing `needle`; returns it.
async fn readyz_becomes(http: &reqwest::Client, addr: SocketAddr, status: u16, needle: &str) -> String {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let last = get(http, addr, "/readyz").await;
        if last.0 == status && last.1.contains(needle) {
            return last.1;
        }
        assert!(std::time::Instant::now() < deadline, "/readyz never answered {status} with {needle:?}; last {last:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `/metrics` satisfies `check`; returns the text.
async fn metrics_until(http: &reqwest::Client, addr: SocketAddr, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let (status, text) = get(http, addr, "/metrics").await;
        if status == 200 && check(&text) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}; last /metrics ({status}):\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics_follow_nats_the_receiver_and_the_exports() {
    let mut nats = NatsServer::reserved();
    let receiver = Receiver::start().await;
    let addr: SocketAddr = ([127, 0, 0, 1], testkit::free_port()).into();
    let mut config = test_config(&nats.url(), &receiver);
    config.metrics_addr = Some(addr);
    let bridge = RunningBridge::start(config);
    let http = reqwest::Client::new();

    // NATS not reachable yet: alive, not ready, and saying why.
    eventually_async("/livez answers 200", || async { get(&http, addr, "/livez").await == (200, "ok\n".to_owned()) })
        .await;
    let (status, body) = get(&http, addr, "/readyz").await;
    assert_eq!((status, body.as_str()), (503, "not ready: not connected to NATS\n"));
    assert_eq!(get(&http, addr, "/").await.0, 404);
    assert_eq!(get(&http, addr, "/healthz").await.0, 404);
    let head = http.head(format!("http://{addr}/readyz")).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 503);
    assert!(head.bytes().await.unwrap().is_empty(), "HEAD has no body");
    let (status, text) = get(&http, addr, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(sample(&text, "dagnats_bridge_ready"), Some(0.0));

    // NATS comes: consumer bound, nothing to export yet: ready.
    nats.run();
    readyz_becomes(&http, addr, 200, "ok").await;
    let js = jetstream(&nats.url()).await;

    // The receiver refuses connections: held, failing, not ready.
    receiver.stop().await;
    publish_spans(&js, 0..3, "svc").await;
    let why = readyz_becomes(&http, addr, 503, "spans exports failing").await;
    assert!(why.starts_with("not ready: "), "{why}");
    assert_eq!(get(&http, addr, "/livez").await.0, 200, "alive while the receiver is down");

    // It comes back: the held spans go out, ready again.
    receiver.restart().await;
    eventually("the 3 held spans arrive", || span_id_counts(&receiver).len() == 3).await;
    readyz_becomes(&http, addr, 200, "ok").await;

    // The receiver answers 503: not ready; 200 again: ready.
    receiver.set_status(503);
    publish_spans(&js, 3..5, "svc").await;
    readyz_becomes(&http, addr, 503, "spans exports failing").await;
    receiver.set_status(200);
    eventually("all 5 spans arrive", || span_id_counts(&receiver).len() == 5).await;
    readyz_becomes(&http, addr, 200, "ok").await;

    // A poison message on a spans subject is dead-lettered; the DLQ depth shows it.
    publish(&js, "telemetry.spans.x", "not a record").await;
    let text = metrics_until(&http, addr, "the dead-letter depth reaches 1", |t| {
        sample(t, "dagnats_bridge_dlq_messages").is_some_and(|n| n >= 1.0)
    })
    .await;
    assert!(sample(&text, "dagnats_bridge_dlq_bytes").is_some_and(|b| b > 0.0), "{text}");

    // Histograms counted the exports (the failed ones too), and the last success is now-ish.
    let count = |signal: &str| {
        sample(&text, &format!("dagnats_bridge_export_request_duration_seconds_count{{signal=\"{signal}\"}}"))
    };
    assert!(count("spans").is_some_and(|n| n >= 3.0), "{text}");
    assert_eq!(count("logs"), Some(0.0));
    let inf = sample(&text, "dagnats_bridge_export_request_duration_seconds_bucket{signal=\"spans\",le=\"+Inf\"}");
    assert_eq!(inf, count("spans"));
    assert!(sample(&text, "dagnats_bridge_export_request_size_bytes_count{signal=\"spans\"}").is_some_and(|n| n >= 3.0));
    assert!(sample(&text, "dagnats_bridge_export_request_size_bytes_sum{signal=\"spans\"}").is_some_and(|n| n > 0.0));
    assert!(
        sample(&text, "dagnats_bridge_export_requests_failed_total{signal=\"spans\"}").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let last = sample(&text, "dagnats_bridge_last_export_success_timestamp_seconds{signal=\"spans\"}")
        .expect("last export time");
    assert!(last > now - 3600.0 && last <= now + 1.0, "{last} vs {now}");
    assert_eq!(sample(&text, "dagnats_bridge_last_export_success_timestamp_seconds{signal=\"logs\"}"), None);
    assert_eq!(sample(&text, "dagnats_bridge_messages_exported_total{signal=\"spans\"}"), Some(5.0));
    assert_eq!(sample(&text, "dagnats_bridge_messages_dead_lettered_total{signal=\"spans\"}"), Some(1.0));
    assert_eq!(sample(&text, "dagnats_bridge_held_total{signal=\"logs\"}"), Some(0.0));

    // The consumer's lag gauges: everything settled, nothing pending.
    let text = metrics_until(&http, addr, "the consumer's lag reads 0 pending, 0 ack pending", |t| {
        sample(t, "dagnats_bridge_consumer_pending_messages") == Some(0.0)
            && sample(t, "dagnats_bridge_consumer_ack_pending_messages") == Some(0.0)
    })
    .await;
    for gauge in [
        "consumer_redelivered_messages",
        "consumer_waiting_pulls",
        "consumer_info_timestamp_seconds",
        "dlq_info_timestamp_seconds",
    ] {
        assert!(sample(&text, &format!("dagnats_bridge_{gauge}")).is_some(), "{gauge} missing:\n{text}");
    }
    assert_eq!(sample(&text, "dagnats_bridge_ready"), Some(1.0));

    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_gauges_follow_the_consumer_go_stale_while_nats_is_down_and_recover() {
    let mut nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let config = test_config(&nats.url(), &receiver);
    let js = jetstream(&nats.url()).await;
    // The bridge's own set-up: TELEMETRY, TELEMETRY_DLQ and the durable consumer.
    dagnats_bridge::consume::prepare(&js, &config).await.expect("streams and consumer");
    publish_spans(&js, 0..5, "svc").await;
    publish(&js, "telemetry_dlq.spans", "dead").await;

    let stats = Stats::new();
    let stop = CancellationToken::new();
    let poller = tokio::spawn(lag::poll_consumer_and_dlq(
        js.clone(),
        "TELEMETRY",
        config.consumer.clone(),
        stats.clone(),
        Duration::from_millis(100),
        stop.clone(),
    ));
    let lag = &stats.lag;
    let read = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    eventually("5 pending, 1 dead letter", || read(&lag.num_pending) == 5 && read(&lag.dlq_messages) == 1).await;
    assert!(read(&lag.dlq_bytes) > 0);

    // Two delivered and not acknowledged: 3 pending, 2 ack pending.
    let consumer: async_nats::jetstream::consumer::PullConsumer =
        js.get_stream("TELEMETRY").await.unwrap().get_consumer(&config.consumer).await.unwrap();
    let mut batch = consumer.fetch().max_messages(2).messages().await.unwrap();
    let mut fetched = Vec::new();
    while let Some(m) = batch.next().await {
        fetched.push(m.unwrap());
    }
    assert_eq!(fetched.len(), 2);
    eventually("3 pending, 2 ack pending", || read(&lag.num_pending) == 3 && read(&lag.num_ack_pending) == 2).await;

    // NATS goes away: the gauges keep their last values, the poller keeps running.
    nats.stop();
    let polled = read(&lag.consumer_polled_nanos);
    let dlq_polled = read(&lag.dlq_polled_nanos);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!poller.is_finished(), "the poller survives NATS going away");
    assert_eq!((read(&lag.num_pending), read(&lag.num_ack_pending), read(&lag.dlq_messages)), (3, 2, 1));
    let text = stats.prometheus();
    assert!(text.contains("dagnats_bridge_consumer_pending_messages 3\n"), "{text}");
    assert!(text.contains("dagnats_bridge_dlq_messages 1\n"), "{text}");

    // NATS is back (same store): fresh values again.
    nats.run();
    eventually("fresh consumer and dead-letter readings", || {
        read(&lag.consumer_polled_nanos) > polled && read(&lag.dlq_polled_nanos) > dlq_polled
    })
    .await;
    let dlq = js.get_stream(DLQ_STREAM).await.unwrap().cached_info().state.messages;
    assert_eq!(read(&lag.dlq_messages), dlq);

    stop.cancel();
    tokio::time::timeout(PATIENCE, poller).await.expect("the poller stops when told").unwrap();
    drop(receiver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poller_runs_without_nats_ever_answering_and_stops_when_told() {
    let nats = NatsServer::reserved();
    // A client that never connects (the server is never started).
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(nats.url())
        .await
        .expect("connect in the background");
    let js = async_nats::jetstream::new(client);
    let stats = Stats::new();
    let stop = CancellationToken::new();
    let poller = tokio::spawn(lag::poll_consumer_and_dlq(
        js,
        "TELEMETRY",
        "otlp-bridge".into(),
        stats.clone(),
        Duration::from_millis(50),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poller.is_finished());
    assert_eq!(stats.lag.consumer_polled_nanos.load(Ordering::Relaxed), 0, "never read");
    let text = stats.prometheus();
    assert!(!text.contains("dagnats_bridge_consumer_pending_messages"), "no value rather than a made-up one:\n{text}");
    stop.cancel();
    tokio::time::timeout(PATIENCE, poller).await.expect("the poller stops when told").unwrap();
}
