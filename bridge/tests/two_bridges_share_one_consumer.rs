//! Scaling out: two bridges on the same durable consumer share the stream; every message
//! is exported exactly once in the happy path, and both do part of the work.

mod support;

use std::time::Duration;

use async_nats::jetstream::consumer::pull;
use dagnats_bridge::Signal;
use support::*;
use testkit::NatsServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bridges_deliver_everything_once_and_share_the_work() {
    const N: u64 = 2000;
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let js = jetstream(&nats.url()).await;
    let a = RunningBridge::start(test_config(&nats.url(), &receiver));
    let b = RunningBridge::start(test_config(&nats.url(), &receiver));

    // Both bridges' workers are waiting in pull requests before the stream starts.
    let pulls = 2 * test_config(&nats.url(), &receiver).workers;
    eventually_async("both bridges pulling", || {
        let js = js.clone();
        async move {
            let Ok(stream) = js.get_stream("TELEMETRY").await else { return false };
            let Ok(mut c) = stream.get_consumer::<pull::Config>("otlp-bridge").await else { return false };
            c.info().await.map(|i| i.num_waiting >= pulls).unwrap_or(false)
        }
    })
    .await;

    for burst in 0..(N / 100) {
        publish_spans(&js, burst * 100..(burst + 1) * 100, "svc").await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (sa, sb) = (a.stats.clone(), b.stats.clone());
    let exported = || sa.snapshot().signal(Signal::Spans).exported + sb.snapshot().signal(Signal::Spans).exported;
    eventually("all spans exported", || exported() >= N).await;

    let counts = span_id_counts(&receiver);
    assert_eq!(exported(), N, "a message was exported twice");
    assert_eq!(receiver.spans().len() as u64, N);
    assert!((0..N).all(|i| counts.get(&span_id(i)) == Some(&1)), "a span is missing or came twice");
    let (ea, eb) = (sa.snapshot().signal(Signal::Spans).exported, sb.snapshot().signal(Signal::Spans).exported);
    println!("bridge A exported {ea}, bridge B exported {eb}");
    assert!(ea > 0 && eb > 0, "both bridges share the work ({ea} / {eb})");
    assert_eq!(sa.snapshot().total().redelivered + sb.snapshot().total().redelivered, 0);
    a.stop().await;
    b.stop().await;
}
