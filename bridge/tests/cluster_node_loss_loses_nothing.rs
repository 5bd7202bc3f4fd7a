//! A 3-node JetStream cluster on loopback, TELEMETRY replicated three ways. A collector
//! (given all three URLs) writes spans at a steady rate while a bridge (also given all
//! three) exports them to a real OTLP receiver. The node leading TELEMETRY is killed
//! (SIGKILL) mid-stream and later restarted: both keep working while it is gone, and
//! every span id written reaches the receiver (duplicates are counted and printed; none
//! may be lost, nothing dropped, nothing dead-lettered). Long, so a plain `cargo test`
//! ignores it and `scripts/test-hardening` (which CI runs) runs it.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use dagnats_bridge::Signal;
use dagnats_observe::collector::stream::{stream_config, STREAM_NAME};
use dagnats_observe::{Attribute, CollectorOptions, Context, SpanOptions, Telemetry};
use support::*;
use testkit::NatsCluster;

/// Spans per 10 ms tick: a steady 300 spans/s.
const SPANS_PER_TICK: usize = 3;
/// Spans that must arrive in each phase (before the kill, while a node is down, after
/// the restart) before the test moves on: proof that the pipeline works in that phase.
const PHASE_SPANS: usize = 600;

/// Ends spans at a steady rate until told to stop; keeps every span id it wrote.
struct Producer {
    written: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Producer {
    fn start(tel: Telemetry) -> Producer {
        let written = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (w, s) = (Arc::clone(&written), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut next = Instant::now();
            let mut i = 0i64;
            while !s.load(Ordering::Relaxed) {
                for _ in 0..SPANS_PER_TICK {
                    let (_, mut span) = tel.tracer.start(
                        &Context::new(),
                        "cluster.step",
                        SpanOptions::new()
                            .attributes([Attribute::string("run_id", "cluster"), Attribute::int("seq", i)]),
                    );
                    let id = span.span_id();
                    span.end();
                    w.lock().unwrap().push(id);
                    i += 1;
                }
                next += Duration::from_millis(10);
                if let Some(d) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
        });
        Producer { written, stop, thread }
    }

    fn count(&self) -> usize {
        self.written.lock().unwrap().len()
    }

    fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("producer panicked");
        Arc::try_unwrap(self.written).unwrap().into_inner().unwrap()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn received_ids(receiver: &Receiver) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for s in receiver.spans() {
        *counts.entry(hex(&s.span.span_id)).or_insert(0) += 1;
    }
    counts
}

/// The index (`n{i}`) of the server leading TELEMETRY, once it has one.
async fn stream_leader(js: &jetstream::Context) -> usize {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(mut s) = js.get_stream(STREAM_NAME).await {
            if let Ok(info) = s.info().await {
                if let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone()) {
                    return leader.trim_start_matches('n').parse().expect("server names are n0, n1, n2");
                }
            }
        }
        assert!(Instant::now() < deadline, "TELEMETRY has no leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether TELEMETRY has a leader and two replicas, all current.
async fn fully_replicated(js: &jetstream::Context) -> bool {
    let Ok(mut s) = js.get_stream(STREAM_NAME).await else { return false };
    let Ok(info) = s.info().await else { return false };
    info.cluster
        .as_ref()
        .is_some_and(|c| c.leader.is_some() && c.replicas.len() == 2 && c.replicas.iter().all(|r| r.current))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/test-hardening"]
async fn a_node_killed_and_restarted_mid_stream_loses_no_span() {
    let started = Instant::now();
    let mut cluster = NatsCluster::start(3);
    cluster.wait_for_jetstream(PATIENCE).await;
    let urls = cluster.urls();

    // TELEMETRY with the contract's settings, replicated three ways, before any producer.
    let servers: Vec<async_nats::ServerAddr> = urls.split(',').map(|u| u.parse().expect("server URL")).collect();
    let js = jetstream::new(async_nats::connect(servers).await.expect("connect"));
    let config = jetstream::stream::Config { num_replicas: 3, ..stream_config() };
    eventually_async("TELEMETRY created with 3 replicas", || {
        let (js, config) = (js.clone(), config.clone());
        async move { js.create_stream(config).await.is_ok() }
    })
    .await;
    eventually_async("TELEMETRY fully replicated", || fully_replicated(&js)).await;

    let receiver = Receiver::start().await;
    let mut bridge_config = test_config(&urls, &receiver);
    bridge_config.ack_wait = Duration::from_secs(5);
    let bridge = RunningBridge::start(bridge_config);
    let stats = bridge.stats.clone();
    let tel =
        Telemetry::connect(CollectorOptions::default().url(urls.clone()).service("cluster-worker")).expect("collector");
    let producer = Producer::start(tel.clone());

    // Phase 1: all three nodes up.
    eventually("spans flowing with three nodes", || receiver.spans().len() >= PHASE_SPANS).await;

    // Phase 2: the leader of TELEMETRY is killed; writing goes on.
    let victim = stream_leader(&js).await;
    cluster.servers[victim].stop();
    let killed_at = Instant::now();
    let written_at_kill = producer.count();
    eprintln!("killed n{victim} (TELEMETRY leader) after {written_at_kill} spans written");
    let first_after_kill = written_at_kill;
    eventually("spans written after the kill reach the receiver while the node is down", || {
        let written = producer.written.lock().unwrap();
        if written.len() < first_after_kill + PHASE_SPANS {
            return false;
        }
        let got = received_ids(&receiver);
        written[first_after_kill..first_after_kill + PHASE_SPANS].iter().all(|id| got.contains_key(id))
    })
    .await;
    let new_leader = stream_leader(&js).await;
    assert_ne!(new_leader, victim, "a surviving node leads TELEMETRY");

    // Phase 3: the node comes back with its store and catches up.
    cluster.servers[victim].run();
    let down_for = killed_at.elapsed();
    let written_at_restart = producer.count();
    eventually_async("the restarted node is a current replica again", || fully_replicated(&js)).await;
    eventually("spans written after the restart reach the receiver", || {
        let written = producer.written.lock().unwrap();
        if written.len() < written_at_restart + PHASE_SPANS {
            return false;
        }
        let got = received_ids(&receiver);
        written[written_at_restart..written_at_restart + PHASE_SPANS].iter().all(|id| got.contains_key(id))
    })
    .await;

    // The end: every span id written reaches the receiver.
    let written = producer.finish();
    tel.flush(PATIENCE).expect("collector flushed");
    let stats_c = tel.collector_stats().unwrap();
    eventually("every span written reaches the receiver", || {
        let got = received_ids(&receiver);
        written.iter().all(|id| got.contains_key(id))
    })
    .await;
    // Let redeliveries that are already on their way land before counting duplicates.
    tokio::time::sleep(Duration::from_millis(500)).await;
    bridge.stop().await;
    tel.shutdown(Duration::from_secs(5)).expect("collector shut down");

    let got = received_ids(&receiver);
    let received: usize = got.values().sum();
    let duplicated: usize = got.values().map(|n| n - 1).sum();
    let lost: Vec<&String> = written.iter().filter(|id| !got.contains_key(*id)).collect();
    let snap = stats.snapshot();
    println!(
        "cluster figures: spans written {}, received {}, duplicated {}, lost {}, dropped {}, collector retried {}, \
         bridge redelivered {}, dead-lettered {}, node n{victim} down {:.1} s, test {:.1} s",
        written.len(),
        received,
        duplicated,
        lost.len(),
        tel.dropped(),
        stats_c.retried,
        snap.signal(Signal::Spans).redelivered,
        snap.total().dead_lettered,
        down_for.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    assert!(lost.is_empty(), "{} spans lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
    assert_eq!(got.len(), written.len(), "nothing arrives that was not written");
    assert_eq!(tel.dropped(), 0, "nothing dropped by the collector");
    assert_eq!(stats_c.dropped_failed, 0);
    assert_eq!(snap.total().dead_lettered, 0, "nothing dead-lettered");
}
