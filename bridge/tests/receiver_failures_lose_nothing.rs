//! The receiver misbehaving: answering 503 for a while, gone altogether (port closed)
//! for longer than several ack waits, or refusing with 400. Nothing is lost; only the
//! permanent refusal dead-letters, after the first attempt.

mod support;

use std::time::Duration;

use dagnats_bridge::settle::{HEADER_DELIVERIES, HEADER_REASON, HEADER_SEQUENCE, HEADER_SUBJECT};
use dagnats_bridge::Signal;
use support::*;
use testkit::NatsServer;

/// How long the receiver stays down. Several times the test's ack wait, so that without
/// in-progress acknowledgements every held message would be redelivered (and run out of
/// deliveries) during the outage. The 30 s would only make the suite slower: the
/// mechanism under test is the same at any multiple of the ack wait.
const OUTAGE: Duration = Duration::from_secs(6);
/// The ack wait of the outage test's consumer.
const ACK_WAIT: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_503_for_a_while_loses_nothing() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    receiver.set_status(503);
    let js = jetstream(&nats.url()).await;
    let bridge = RunningBridge::start(test_config(&nats.url(), &receiver));

    publish_spans(&js, 0..60, "svc").await;
    eventually("several 503 answers", || receiver.answered(503) >= 4).await;
    assert_eq!(receiver.spans().len(), 0);
    receiver.set_status(200);

    let stats = bridge.stats.clone();
    eventually("all 60 spans exported", || stats.snapshot().signal(Signal::Spans).exported >= 60).await;
    let counts = span_id_counts(&receiver);
    for i in 0..60 {
        assert!(counts.contains_key(&span_id(i)), "span {i} lost");
    }
    let snap = stats.snapshot();
    assert!(snap.signal(Signal::Spans).retried > 0);
    assert_eq!(snap.total().dead_lettered, 0);
    assert!(dead_letters(&nats.url()).await.is_empty());
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_many_ack_waits_loses_and_dead_letters_nothing() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let js = jetstream(&nats.url()).await;
    let mut config = test_config(&nats.url(), &receiver);
    config.ack_wait = ACK_WAIT;
    let bridge = RunningBridge::start(config);
    let stats = bridge.stats.clone();

    publish_spans(&js, 0..20, "svc").await;
    eventually("the first 20 spans exported", || stats.snapshot().signal(Signal::Spans).exported == 20).await;

    receiver.stop().await;
    publish_spans(&js, 20..120, "svc").await;
    tokio::time::sleep(OUTAGE).await;
    let during = stats.snapshot();
    assert_eq!(during.signal(Signal::Spans).exported, 20, "nothing can be exported while the receiver is down");
    assert!(during.signal(Signal::Spans).retried > 0, "the bridge kept trying");
    assert_eq!(during.total().redelivered, 0, "held messages were kept in progress, not redelivered");
    assert_eq!(during.total().dead_lettered, 0);
    receiver.restart().await;

    eventually("all 120 spans exported", || stats.snapshot().signal(Signal::Spans).exported >= 120).await;
    let counts = span_id_counts(&receiver);
    for i in 0..120 {
        assert_eq!(counts.get(&span_id(i)), Some(&1), "span {i} lost or duplicated");
    }
    let after = stats.snapshot();
    assert_eq!(after.signal(Signal::Spans).exported, 120);
    assert_eq!((after.total().redelivered, after.total().dead_lettered), (0, 0));
    assert!(dead_letters(&nats.url()).await.is_empty());
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_dead_letters_after_the_first_attempt() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    receiver.set_status(400);
    let js = jetstream(&nats.url()).await;
    let bridge = RunningBridge::start(test_config(&nats.url(), &receiver));
    let stats = bridge.stats.clone();

    publish_spans(&js, 0..10, "svc").await;
    eventually("10 spans dead-lettered", || stats.snapshot().signal(Signal::Spans).dead_lettered == 10).await;
    let dead = dead_letters(&nats.url()).await;
    assert_eq!(dead.len(), 10);
    let mut sequences: Vec<u64> = Vec::new();
    for m in &dead {
        assert_eq!(m.subject, "telemetry_dlq.spans.svc.r-1");
        assert_eq!(m.header(HEADER_SUBJECT), Some("telemetry.spans.svc.r-1"));
        assert_eq!(m.header(HEADER_DELIVERIES), Some("1"), "dead-lettered after the first attempt");
        let reason = m.header(HEADER_REASON).unwrap();
        assert!(reason.contains("HTTP 400"), "{reason}");
        sequences.push(m.header(HEADER_SEQUENCE).unwrap().parse().unwrap());
        assert!(m.payload.starts_with(b"{\"trace_id\""), "the original body is kept");
    }
    sequences.sort();
    assert_eq!(sequences, (1..=10).collect::<Vec<_>>());
    assert_eq!(stats.snapshot().total().retried, 0, "a 400 is not retried");
    let attempts = receiver.answered(400);

    // The receiver recovers: new spans flow, the dead-lettered ones are not sent again.
    receiver.set_status(200);
    publish_spans(&js, 10..20, "svc").await;
    eventually("10 new spans exported", || stats.snapshot().signal(Signal::Spans).exported == 10).await;
    let counts = span_id_counts(&receiver);
    assert!((0..10).all(|i| !counts.contains_key(&span_id(i))));
    assert!((10..20).all(|i| counts.get(&span_id(i)) == Some(&1)));
    assert_eq!(receiver.answered(400), attempts);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retryable_failure_on_the_last_delivery_requeues_instead_of_dead_lettering() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    receiver.set_status(503);
    let js = jetstream(&nats.url()).await;
    // Published before the bridge starts, so one worker fetches them all in one batch.
    publish_spans(&js, 0..5, "svc").await;
    let mut config = test_config(&nats.url(), &receiver);
    config.max_deliver = 1;
    config.workers = 1;
    let bridge = RunningBridge::start(config);
    let stats = bridge.stats.clone();

    // Every delivery is the last one: a 503 re-queues the messages (the data is not at
    // fault) and the copies come back, until the receiver accepts them.
    eventually("5 spans re-queued", || stats.snapshot().signal(Signal::Spans).requeued >= 5).await;
    receiver.set_status(200);
    eventually("5 spans exported", || span_id_counts(&receiver).len() == 5).await;
    bridge.stop().await;
    assert!(span_id_counts(&receiver).values().all(|&c| c == 1));
    assert!(dead_letters(&nats.url()).await.is_empty(), "a retryable failure dead-lettered data");
    assert_eq!(consumer_backlog(&nats.url()).await, (0, 0));
}
