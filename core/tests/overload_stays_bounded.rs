//! Overload: a worker ending spans much faster than NATS accepts them (NATS gone, or a
//! tiny buffer) keeps ending spans without blocking; every record that does not fit is
//! dropped and counted exactly; the process's memory stays bounded by the buffer, and
//! stays flat while NATS is stopped for a long spell; what was buffered arrives after.
//!
//! Memory is the process's resident set (VmRSS in /proc/self/status). The tests of this
//! file take a lock so that none allocates while another measures.
//!
//! The outage test is long (NATS stopped for `OVERLOAD_SECONDS`, default a minute): it is
//! ignored by a plain `cargo test` and run by `scripts/test-hardening` (which CI runs).

// The lock is held across awaits on purpose: each test has its own runtime, and the lock
// only keeps the tests of this file from running at the same time.
#![allow(clippy::await_holding_lock)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use dagnats_observe::{Attribute, CollectorOptions, Context, SpanOptions, Telemetry};
use testkit::{read_stream, NatsServer};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A generous bound on what one buffered span record costs (the records of these tests
/// hold four attributes; serialized they are about 400 bytes).
const BYTES_PER_RECORD: u64 = 4096;
/// Allowed on top of the buffer: allocator slack, thread stacks, the runtime.
const SLACK_BYTES: u64 = 24 << 20;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

fn end_spans(tel: &Telemetry, n: usize, run: &'static str) {
    for i in 0..n {
        let (_, mut s) = tel.tracer.start(
            &Context::new(),
            "overload.step",
            SpanOptions::new().attributes([
                Attribute::string("run_id", run),
                Attribute::int("i", i as i64),
                Attribute::string("payload", "a value of some sixty characters, as attributes often are"),
                Attribute::bool("overloaded", true),
            ]),
        );
        s.end();
    }
}

#[test]
fn with_nats_gone_span_end_never_blocks_and_memory_stays_under_the_buffer() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    const CAPACITY: usize = 2_000;
    const PRODUCED: usize = 100 * CAPACITY;
    let server = NatsServer::reserved(); // never started: nothing drains the buffer
    let before = rss_bytes();
    let options =
        CollectorOptions { buffer_capacity: CAPACITY, ..CollectorOptions::default().url(server.url()).service("svc") };
    let tel = Telemetry::connect(options).unwrap();

    let t = Instant::now();
    end_spans(&tel, PRODUCED, "gone"); // returns: ending a span never waits for NATS
    let per_span = t.elapsed() / PRODUCED as u32;
    let after = rss_bytes();

    let stats = tel.collector_stats().unwrap();
    assert_eq!(
        stats.dropped_overflow,
        (PRODUCED - CAPACITY) as u64,
        "everything beyond the buffer is dropped and counted"
    );
    assert_eq!(stats.pending, CAPACITY as u64, "the buffer is full, nothing more");
    assert_eq!(tel.dropped(), (PRODUCED - CAPACITY) as u64);
    let bound = CAPACITY as u64 * BYTES_PER_RECORD + SLACK_BYTES;
    println!(
        "overload figures (NATS gone): spans ended {PRODUCED}, buffered {}, dropped {}, RSS {:.1} -> {:.1} MiB \
         (growth bound {:.1} MiB), {per_span:?} per span end",
        stats.pending,
        stats.dropped_overflow,
        mib(before),
        mib(after),
        mib(bound)
    );
    assert!(
        after.saturating_sub(before) <= bound,
        "RSS grew by {:.1} MiB after {PRODUCED} spans into a buffer of {CAPACITY} (bound {:.1} MiB)",
        mib(after.saturating_sub(before)),
        mib(bound)
    );
    let _ = tel.shutdown(Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_buffer_in_front_of_a_live_server_counts_every_drop() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    const PRODUCED: usize = 50_000;
    let server = NatsServer::start();
    let options = CollectorOptions {
        buffer_capacity: 16,
        max_in_flight: 4,
        ..CollectorOptions::default().url(server.url()).service("svc")
    };
    let tel = Telemetry::connect(options).unwrap();
    let producer = {
        let tel = tel.clone();
        // A plain thread: the worker's own, not the runtime's.
        std::thread::spawn(move || end_spans(&tel, PRODUCED, "tiny"))
    };
    tokio::task::spawn_blocking(move || producer.join().expect("producer")).await.unwrap();
    tel.flush(Duration::from_secs(30)).expect("what was accepted is delivered");

    let stats = tel.collector_stats().unwrap();
    let stored = read_stream(&server.url(), "TELEMETRY").await.len() as u64;
    println!(
        "overload figures (tiny buffer): spans ended {PRODUCED}, published {}, dropped {}, stored {stored}",
        stats.published, stats.dropped_overflow
    );
    assert!(stats.dropped_overflow > 0, "the producer outran a 16-record buffer");
    assert_eq!(
        stats.published + stats.dropped_overflow,
        PRODUCED as u64,
        "every span is either published or counted as dropped"
    );
    assert_eq!(stats.dropped_failed, 0);
    assert_eq!(stored, stats.published, "the stream holds exactly what was published");
    tel.shutdown(Duration::from_secs(5)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/test-hardening"]
async fn with_nats_stopped_for_a_long_spell_memory_stays_flat_and_the_buffer_arrives_after() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let outage = Duration::from_secs(std::env::var("OVERLOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60));
    const CAPACITY: usize = 5_000;
    const WINDOW: usize = 64;
    /// Spans per 10 ms tick: 2,000 spans/s, so the buffer is full after 2.5 s.
    const PER_TICK: usize = 20;
    /// RSS may move this much after warm-up (allocator noise), no more.
    const FLAT_MARGIN: u64 = 4 << 20;

    let mut server = NatsServer::start();
    let options = CollectorOptions {
        buffer_capacity: CAPACITY,
        max_in_flight: WINDOW,
        ..CollectorOptions::default().url(server.url()).service("svc")
    };
    let tel = Telemetry::connect(options).unwrap();
    end_spans(&tel, 500, "before");
    tel.flush(Duration::from_secs(10)).unwrap();
    let published_before = tel.collector_stats().unwrap().published;
    assert_eq!(published_before, 500);

    server.stop();
    // A steady producer for the whole outage, sampling RSS once a second.
    let producer = {
        let tel = tel.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut next = start;
            let mut produced = 0usize;
            let mut samples: Vec<(Duration, u64)> = Vec::new();
            let mut next_sample = start;
            while start.elapsed() < outage {
                end_spans(&tel, PER_TICK, "during");
                produced += PER_TICK;
                if Instant::now() >= next_sample {
                    samples.push((start.elapsed(), rss_bytes()));
                    next_sample += Duration::from_secs(1);
                }
                next += Duration::from_millis(10);
                if let Some(d) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
            samples.push((start.elapsed(), rss_bytes()));
            (produced, samples)
        })
    };
    let (produced, samples) = tokio::task::spawn_blocking(move || producer.join().expect("producer")).await.unwrap();
    let stats = tel.collector_stats().unwrap();

    // Warm-up: until the buffer is full (2.5 s at this rate) and a second more.
    let warm = Duration::from_millis(3_500);
    let after_warmup: Vec<u64> = samples.iter().filter(|(t, _)| *t >= warm).map(|(_, r)| *r).collect();
    assert!(after_warmup.len() >= 2, "the outage is long enough to sample after warm-up: {samples:?}");
    let (first, last) = (after_warmup[0], *after_warmup.last().unwrap());
    let peak = after_warmup.iter().copied().max().unwrap();
    println!(
        "overload figures (NATS stopped {:?}): spans ended {produced}, buffered {}, dropped {}, RSS after warm-up {:.1} MiB, \
         last {:.1} MiB, peak {:.1} MiB",
        outage,
        stats.pending,
        stats.dropped_overflow,
        mib(first),
        mib(last),
        mib(peak)
    );
    assert!(
        last <= first + FLAT_MARGIN,
        "RSS grew from {:.1} to {:.1} MiB while NATS was stopped: {:?}",
        mib(first),
        mib(last),
        samples.iter().map(|(t, r)| (t.as_secs(), mib(*r))).collect::<Vec<_>>()
    );
    // Every span of the outage is either waiting (in the buffer, or in the publisher's
    // window of unacknowledged publishes) or counted as dropped.
    assert_eq!(stats.published, published_before, "nothing could be published");
    assert_eq!(stats.pending + stats.dropped_overflow, produced as u64);
    assert!(
        stats.pending >= CAPACITY as u64 && stats.pending <= (CAPACITY + WINDOW) as u64,
        "the buffer (and at most one window) waits: {stats:?}"
    );
    assert_eq!(stats.dropped_failed, 0);

    // NATS back: what was buffered arrives.
    server.run();
    tel.flush(Duration::from_secs(30)).expect("the buffer drains after NATS is back");
    let end = tel.collector_stats().unwrap();
    assert_eq!(end.published, published_before + stats.pending, "every buffered record published");
    assert_eq!(end.dropped_failed, 0);
    let stored = read_stream(&server.url(), "TELEMETRY").await;
    let during = stored.iter().filter(|m| m.subject == "telemetry.spans.svc.during").count() as u64;
    assert_eq!(during, stats.pending, "the stream holds every buffered span of the outage, once");
    tel.shutdown(Duration::from_secs(5)).unwrap();
}
