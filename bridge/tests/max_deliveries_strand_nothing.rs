//! No message is stranded past its last delivery: an outage of the receiver across
//! repeated restarts of the bridge dead-letters nothing and loses nothing (messages on
//! their last delivery are re-queued), and any message the server gives up on anyway (the
//! bridge killed on its last delivery, or a dead letter that could not be stored then)
//! ends in the dead-letter stream exactly once, counted, through the server's
//! max-deliveries advisory.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream;
use dagnats_bridge::advisory::ADVISORY_STREAM;
use dagnats_bridge::settle::{dead_letter_stream_config, DLQ_STREAM, HEADER_REASON, HEADER_SEQUENCE};
use dagnats_bridge::Signal;
use support::*;
use testkit::NatsServer;

/// How often each original TELEMETRY sequence is in the dead-letter stream.
async fn dead_letter_sequences(url: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in dead_letters(url).await {
        *counts.entry(m.header(HEADER_SEQUENCE).unwrap_or("").to_owned()).or_insert(0) += 1;
    }
    counts
}

/// Deliveries the bridge's consumer has made in all.
async fn deliveries_made(url: &str) -> u64 {
    let js = jetstream::new(async_nats::connect(url).await.expect("connect"));
    let Ok(stream) = js.get_stream("TELEMETRY").await else { return 0 };
    let Ok(mut c) = stream.get_consumer::<jetstream::consumer::pull::Config>("otlp-bridge").await else { return 0 };
    c.info().await.map(|i| i.delivered.consumer_sequence).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_across_five_restarts_dead_letters_nothing_and_loses_nothing() {
    const N: u64 = 300;
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    receiver.stop().await;
    let js = jetstream(&nats.url()).await;
    publish_spans(&js, 0..N, "svc").await;

    let config = || {
        let mut c = test_config(&nats.url(), &receiver);
        c.max_deliver = 3;
        c.ack_wait = Duration::from_secs(2);
        c
    };
    // Each bridge takes every message in hand, holds it (the receiver refuses
    // connections) and is stopped as SIGTERM stops it: every message goes through its
    // three deliveries and beyond.
    let mut requeued = 0;
    for round in 0..5 {
        let bridge = RunningBridge::start(config());
        let stats = bridge.stats.clone();
        eventually("every message in hand and held", || {
            let s = stats.snapshot();
            s.signal(Signal::Spans).received >= N && s.signal(Signal::Spans).held > 0
        })
        .await;
        bridge.stop().await;
        println!(
            "restart {round}: {:?} {:?}",
            stats.snapshot().signal(Signal::Spans),
            consumer_backlog(&nats.url()).await
        );
        requeued += stats.snapshot().signal(Signal::Spans).requeued;
        assert_eq!(stats.snapshot().total().dead_lettered, 0);
    }
    assert!(requeued >= N, "messages on their last delivery were re-queued ({requeued})");

    receiver.restart().await;
    let last = RunningBridge::start(config());
    eventually("every span exported", || span_id_counts(&receiver).len() as u64 == N).await;
    eventually_async("nothing left on the consumer", || async { consumer_backlog(&nats.url()).await == (0, 0) }).await;
    last.stop().await;
    let counts = span_id_counts(&receiver);
    assert!(counts.values().all(|&c| c == 1), "a span exported twice");
    assert!(dead_letters(&nats.url()).await.is_empty(), "an outage dead-lettered data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_on_the_last_delivery_the_server_gives_up_and_the_message_is_dead_lettered_once() {
    const N: u64 = 40;
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    receiver.stop().await;
    let js = jetstream(&nats.url()).await;
    publish_spans(&js, 0..N, "svc").await;
    let flags = ["--max-deliver", "2", "--ack-wait", "1s", "--flush-interval", "200ms"];

    // Two deliveries, each ended by SIGKILL while the bridge holds the messages.
    for delivery in 1..=2u64 {
        let mut bridge = start_binary(&nats.url(), &receiver, &flags);
        eventually_async("every message delivered again and held", || async {
            deliveries_made(&nats.url()).await >= delivery * N && consumer_backlog(&nats.url()).await == (0, N as usize)
        })
        .await;
        bridge.kill().expect("SIGKILL");
        bridge.wait().unwrap();
    }

    let metrics_port = testkit::free_port();
    let addr = format!("127.0.0.1:{metrics_port}");
    let mut flags_with_metrics = flags.to_vec();
    flags_with_metrics.extend(["--metrics-addr", &addr]);
    let mut third = start_binary(&nats.url(), &receiver, &flags_with_metrics);
    eventually_async("every message dead-lettered", || async { dead_letters(&nats.url()).await.len() as u64 >= N })
        .await;
    eventually_async("nothing left on the consumer", || async { consumer_backlog(&nats.url()).await == (0, 0) }).await;

    let sequences = dead_letter_sequences(&nats.url()).await;
    assert_eq!(sequences.len() as u64, N, "each message dead-lettered");
    assert!(sequences.values().all(|&c| c == 1), "a message dead-lettered twice: {sequences:?}");
    for m in dead_letters(&nats.url()).await {
        assert!(
            m.header(HEADER_REASON).unwrap_or("").contains("gave up after 2 deliveries"),
            "{:?}",
            m.header(HEADER_REASON)
        );
    }
    let text = reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap();
    let series = "dagnats_bridge_messages_dead_lettered_total{signal=\"spans\"}";
    assert_eq!(sample(&text, series), Some(N as f64), "dead letters counted once each:\n{text}");

    // Nothing of it reaches the receiver afterwards.
    receiver.restart().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.spans().len(), 0);
    third.kill().unwrap();
    third.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_that_cannot_be_stored_on_the_last_delivery_arrives_once_the_stream_is_back() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let js = jetstream(&nats.url()).await;
    let mut config = test_config(&nats.url(), &receiver);
    config.max_deliver = 2;
    config.ack_wait = Duration::from_secs(1);
    let bridge = RunningBridge::start(config);
    let stats = bridge.stats.clone();
    eventually_async("the dead-letter stream made", || {
        let js = js.clone();
        async move { js.get_stream(DLQ_STREAM).await.is_ok() }
    })
    .await;
    // The dead-letter stream goes away: storing dead letters fails on both deliveries.
    js.delete_stream(DLQ_STREAM).await.expect("delete the dead-letter stream");
    publish(&js, "telemetry.spans.svc.r-1", "this is not a record").await;

    let advisories = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    eventually_async("the server gave up on it and said so", || {
        let advisories = advisories.clone();
        async move {
            match advisories.get_stream(ADVISORY_STREAM).await {
                Ok(mut s) => s.info().await.map(|i| i.state.messages >= 1).unwrap_or(false),
                Err(_) => false,
            }
        }
    })
    .await;
    assert!(dead_letters(&nats.url()).await.is_empty());
    js.create_stream(dead_letter_stream_config()).await.expect("the dead-letter stream again");

    eventually_async("dead-lettered", || async { dead_letters(&nats.url()).await.len() == 1 }).await;
    eventually("counted", || stats.snapshot().total().dead_lettered == 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(dead_letters(&nats.url()).await.len(), 1, "stored once");
    assert_eq!(stats.snapshot().total().dead_lettered, 1, "counted once");
    assert_eq!(consumer_backlog(&nats.url()).await, (0, 0));
    bridge.stop().await;
}
