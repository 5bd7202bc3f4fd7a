//! What the receiver refuses decides what is dead-lettered: a request refused for one
//! bad record is split until that record is alone, and only it is dead-lettered; a
//! receiver refusing the bridge's credentials dead-letters nothing, makes the bridge not
//! ready, and gets everything once it accepts again; and after an outage the held
//! batches go out promptly, not after their grown backoff.

mod support;

use std::time::{Duration, Instant};

use dagnats_bridge::Signal;
use support::*;
use testkit::NatsServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refused_span_in_a_request_of_a_hundred_is_the_only_dead_letter() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    receiver.refuse_spans_named("step-57");
    let js = jetstream(&nats.url()).await;
    publish_spans(&js, 0..100, "svc").await;
    let mut config = test_config(&nats.url(), &receiver);
    config.workers = 1;
    let bridge = RunningBridge::start(config);
    let stats = bridge.stats.clone();
    eventually("99 exported, 1 dead-lettered", || {
        let s = stats.snapshot();
        s.signal(Signal::Spans).exported == 99 && s.signal(Signal::Spans).dead_lettered == 1
    })
    .await;
    bridge.stop().await;

    let counts = span_id_counts(&receiver);
    assert_eq!(counts.len(), 99);
    assert!(!counts.contains_key(&span_id(57)));
    assert!(counts.values().all(|&c| c == 1));
    let letters = dead_letters(&nats.url()).await;
    assert_eq!(letters.len(), 1);
    assert!(String::from_utf8_lossy(&letters[0].payload).contains("\"step-57\""));
    assert!(letters[0].header("Dagnats-Dead-Letter-Reason").unwrap().contains("HTTP 400"));
    let splits = stats.snapshot().signal(Signal::Spans).split_requests;
    assert!((1..=20).contains(&splits), "{splits} splits to isolate one span in 100");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_refusing_the_credentials_for_a_minute_costs_nothing() {
    const N: u64 = 500;
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    receiver.set_status(401);
    let js = jetstream(&nats.url()).await;
    publish_spans(&js, 0..N, "svc").await;
    let mut config = test_config(&nats.url(), &receiver);
    // Many ack waits and far more than max_deliver of them pass while the messages are
    // held: none may be used up.
    config.ack_wait = Duration::from_secs(2);
    config.max_deliver = 2;
    config.max_backoff = Duration::from_secs(30);
    let bridge = RunningBridge::start(config);
    let stats = bridge.stats.clone();
    eventually("the receiver refused", || receiver.answered(401) > 0).await;
    eventually("not ready", || stats.health.readiness().is_err()).await;
    let why = stats.health.readiness().unwrap_err();
    assert!(why.contains("401"), "{why}");

    let refusing_until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < refusing_until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(stats.health.readiness().is_err(), "ready while every export is refused");
        assert_eq!(stats.snapshot().total().dead_lettered, 0);
    }
    receiver.set_status(200);
    let back = Instant::now();
    eventually("every span exported", || span_id_counts(&receiver).len() as u64 == N).await;
    let took = back.elapsed();
    eventually("ready again", || stats.health.readiness().is_ok()).await;
    bridge.stop().await;

    assert!(span_id_counts(&receiver).values().all(|&c| c == 1));
    assert!(dead_letters(&nats.url()).await.is_empty());
    assert_eq!(consumer_backlog(&nats.url()).await, (0, 0));
    println!("{N} spans exported {took:?} after the receiver accepted the credentials again");
    // The backoff had grown to tens of seconds; the probe found the receiver back.
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_outage_the_held_batches_go_out_promptly() {
    const N: u64 = 200;
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    receiver.stop().await;
    let js = jetstream(&nats.url()).await;
    publish_spans(&js, 0..N, "svc").await;
    let mut config = test_config(&nats.url(), &receiver);
    config.initial_backoff = Duration::from_millis(500);
    config.max_backoff = Duration::from_secs(30);
    let bridge = RunningBridge::start(config);
    let stats = bridge.stats.clone();
    eventually("held", || stats.snapshot().signal(Signal::Spans).held > 0).await;
    // Long enough for the backoff to grow past 8 s.
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(stats.health.readiness().is_err());
    receiver.restart().await;
    let back = Instant::now();
    eventually("every span exported", || span_id_counts(&receiver).len() as u64 == N).await;
    let took = back.elapsed();
    bridge.stop().await;
    println!("{N} held spans exported {took:?} after a 20 s outage ended");
    assert!(took < Duration::from_secs(6), "took {took:?}: the held batches waited for their backoff");
    assert!(dead_letters(&nats.url()).await.is_empty());
}
