//! The `dagnats` binary as an operator runs it: killed with SIGKILL in the middle of a
//! stream and started again, it delivers everything (duplicates allowed, and counted as
//! redeliveries); sent SIGTERM, it exits cleanly within its flush interval and loses
//! nothing it had in hand.

mod support;

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use support::*;
use testkit::NatsServer;

async fn wait_for_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the bridge did not exit");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `n` pull requests wait on the consumer: the bridge is up and fetching.
async fn wait_until_pulling(nats_url: &str, n: usize) {
    let js = async_nats::jetstream::new(async_nats::connect(nats_url).await.unwrap());
    eventually_async("the bridge pulling", || {
        let js = js.clone();
        async move {
            let Ok(stream) = js.get_stream("TELEMETRY").await else { return false };
            let Ok(mut c) = stream.get_consumer::<async_nats::jetstream::consumer::pull::Config>("otlp-bridge").await
            else {
                return false;
            };
            c.info().await.map(|i| i.num_waiting >= n).unwrap_or(false)
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_then_restart_delivers_everything() {
    const N: u64 = 2000;
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let js = jetstream(&nats.url()).await;
    let mut first =
        start_binary(&nats.url(), &receiver, &["--flush-interval", "200ms", "--ack-wait", "2s", "--batch-size", "50"]);

    // A steady stream, still going when the bridge is killed and restarted.
    let publisher = {
        let js = js.clone();
        tokio::spawn(async move {
            for burst in 0..(N / 50) {
                publish_spans(&js, burst * 50..(burst + 1) * 50, "svc").await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    eventually("some spans exported by the first bridge", || receiver.spans().len() >= 300).await;
    first.kill().expect("SIGKILL");
    first.wait().unwrap();
    let at_kill = receiver.spans().len() as u64;
    assert!(at_kill < N, "the stream was not over when the bridge was killed");

    let metrics_port = testkit::free_port();
    let metrics = metrics_port.to_string();
    let mut second = start_binary(
        &nats.url(),
        &receiver,
        &[
            "--flush-interval",
            "200ms",
            "--ack-wait",
            "2s",
            "--batch-size",
            "50",
            "--metrics-addr",
            &format!("127.0.0.1:{metrics}"),
        ],
    );
    publisher.await.unwrap();
    eventually("every span delivered", || span_id_counts(&receiver).len() as u64 == N).await;

    let counts = span_id_counts(&receiver);
    assert!((0..N).all(|i| counts.contains_key(&span_id(i))));
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    let text = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics")).await.unwrap().text().await.unwrap();
    let redelivered = sample(&text, "dagnats_bridge_messages_redelivered_total{signal=\"spans\"}")
        .expect("redelivered counter") as u64;
    println!("killed after {at_kill} spans; {duplicates} duplicates; {redelivered} redeliveries counted");
    assert!(duplicates as u64 <= redelivered, "every duplicate comes from a counted redelivery");
    assert!(dead_letters(&nats.url()).await.is_empty());
    second.kill().unwrap();
    second.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_cleanly_within_the_flush_interval() {
    const FLUSH: Duration = Duration::from_secs(3);
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let js = jetstream(&nats.url()).await;
    let mut bridge = start_binary(&nats.url(), &receiver, &["--flush-interval", "3s", "--workers", "2"]);
    wait_until_pulling(&nats.url(), 2).await;

    publish_spans(&js, 0..30, "svc").await;
    eventually("30 spans exported", || span_id_counts(&receiver).len() == 30).await;
    // Both workers wait in a pull of up to FLUSH when the signal comes, with new spans
    // in flight.
    wait_until_pulling(&nats.url(), 2).await;
    publish_spans(&js, 30..50, "svc").await;
    let signalled = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &bridge.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = wait_for_exit(&mut bridge).await;
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(took < FLUSH, "took {took:?} to exit, more than the flush interval");

    // What it had in hand was exported or released: another bridge finds the rest.
    let next = RunningBridge::start(test_config(&nats.url(), &receiver));
    eventually("all 50 spans delivered", || span_id_counts(&receiver).len() == 50).await;
    next.stop().await;
    assert!(dead_letters(&nats.url()).await.is_empty());
}
