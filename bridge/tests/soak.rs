//! Soak: the core's collector and the bridge run together for `SOAK_SECONDS` (default
//! 120) at a steady `SOAK_RATE` spans per second (default 2,000), exporting to an OTLP
//! receiver in this process. Every few seconds the test samples this process's resident
//! memory and open file descriptors, and the NATS server's client connections (from its
//! monitoring port). After warm-up none may grow beyond a small margin, the connections
//! stay constant, and at the end the receiver holds every span written, once.
//!
//! Long, so ignored by `cargo test`; `scripts/test-soak` (and `scripts/test-hardening`)
//! run it: `cargo test -p dagnats-bridge --test soak -- --ignored --nocapture`.
//!
//! The receiver here only counts: it records how often each span (by its `seq`
//! attribute) arrived in a table allocated and touched before the measurements start,
//! so that its own bookkeeping does not look like a leak.

mod support;

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dagnats_bridge::Signal;
use dagnats_observe::{Attribute, CollectorOptions, Context, SpanOptions, Telemetry};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use prost::Message;
use support::{eventually, RunningBridge, PATIENCE};
use testkit::{free_port, NatsServer};

/// Seconds between two samples.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// RSS may exceed its first sample after warm-up by this much (allocator noise)...
const RSS_MARGIN_BYTES: u64 = 8 << 20;
/// ...or by this fraction of it, whichever is larger.
const RSS_MARGIN_FRACTION: f64 = 0.10;
/// Open descriptors may vary by this much (a pooled HTTP connection being replaced).
const FD_MARGIN: usize = 4;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap()
}

fn rss_bytes() -> u64 {
    status_kb("VmRSS:") * 1024
}

fn peak_rss_bytes() -> u64 {
    status_kb("VmHWM:") * 1024
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

/// An OTLP/HTTP receiver that counts spans by their `seq` attribute.
struct CountingReceiver {
    addr: std::net::SocketAddr,
    seen: Arc<Vec<AtomicU16>>,
    unknown: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingReceiver {
    async fn start(capacity: usize) -> CountingReceiver {
        // Built element by element: every page is written now, not during the soak.
        let seen: Arc<Vec<AtomicU16>> = Arc::new((0..capacity).map(|_| AtomicU16::new(u16::MAX)).collect());
        for s in seen.iter() {
            s.store(0, Ordering::Relaxed);
        }
        let unknown = Arc::new(AtomicU64::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let addr = listener.local_addr().unwrap();
        let (s, u) = (Arc::clone(&seen), Arc::clone(&unknown));
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (s, u) = (Arc::clone(&s), Arc::clone(&u));
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(Arc::clone(&s), Arc::clone(&u), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        CountingReceiver { addr, seen, unknown, task }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// (distinct spans among the first `written`, total deliveries of them, deliveries of
    /// anything else).
    fn tally(&self, written: usize) -> (usize, u64, u64) {
        let mut distinct = 0;
        let mut total = 0u64;
        for c in &self.seen[..written] {
            let n = c.load(Ordering::Relaxed) as u64;
            distinct += usize::from(n > 0);
            total += n;
        }
        let beyond: u64 = self.seen[written..].iter().map(|c| c.load(Ordering::Relaxed) as u64).sum();
        (distinct, total, beyond + self.unknown.load(Ordering::Relaxed))
    }
}

impl Drop for CountingReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    seen: Arc<Vec<AtomicU16>>,
    unknown: Arc<AtomicU64>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let gzip = req.headers().get("content-encoding").is_some_and(|v| v == "gzip");
    let path = req.uri().path().to_owned();
    let body = req.into_body().collect().await?.to_bytes();
    if path == "/v1/traces" {
        let raw = if gzip {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out).expect("gzip body");
            out
        } else {
            body.to_vec()
        };
        let r = ExportTraceServiceRequest::decode(&raw[..]).expect("ExportTraceServiceRequest");
        for span in r.resource_spans.iter().flat_map(|rs| &rs.scope_spans).flat_map(|ss| &ss.spans) {
            let seq = span.attributes.iter().find(|kv| kv.key == "seq").and_then(|kv| match kv.value.as_ref()?.value {
                Some(Any::IntValue(i)) => usize::try_from(i).ok(),
                _ => None,
            });
            match seq.and_then(|i| seen.get(i)) {
                Some(c) => {
                    c.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    unknown.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::new()))
        .unwrap())
}

/// The server's client connections, from its monitoring endpoint.
async fn nats_connections(http: &reqwest::Client, monitor: &str) -> u64 {
    let body = http.get(format!("{monitor}/connz")).send().await.expect("connz").bytes().await.expect("connz body");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("connz JSON");
    body["num_connections"].as_u64().expect("num_connections")
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    written: usize,
    rss: u64,
    fds: usize,
    connections: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/test-soak"]
async fn collector_and_bridge_hold_steady_and_lose_nothing() {
    let seconds = env_u64("SOAK_SECONDS", 120);
    let rate = env_u64("SOAK_RATE", 2_000).max(100);
    let duration = Duration::from_secs(seconds);
    let warm_up = Duration::from_secs((seconds / 4).max(10));
    assert!(duration > warm_up + SAMPLE_EVERY, "SOAK_SECONDS={seconds} leaves no time after a warm-up of {warm_up:?}");
    let per_tick = (rate / 100) as usize; // every 10 ms
    let capacity = (rate * seconds) as usize * 6 / 5 + 10_000;

    let monitor_port = free_port();
    let nats = NatsServer::start_with_args(&["-m", &monitor_port.to_string()]);
    let monitor = format!("http://127.0.0.1:{monitor_port}");
    let http = reqwest::Client::new();
    let receiver = CountingReceiver::start(capacity).await;

    let mut config = dagnats_bridge::Config::new(&nats.url(), &receiver.base_url());
    config.flush_interval = Duration::from_millis(200);
    config.stats_interval = Duration::ZERO;
    let bridge = RunningBridge::start(config);
    let stats = bridge.stats.clone();
    let tel =
        Telemetry::connect(CollectorOptions::default().url(nats.url()).service("soak-worker")).expect("collector");

    let written = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (tel, written, stop) = (tel.clone(), Arc::clone(&written), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut next = Instant::now();
            let mut seq = 0i64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..per_tick {
                    let (_, mut span) = tel.tracer.start(
                        &Context::new(),
                        "soak.step",
                        SpanOptions::new().attributes([
                            Attribute::string("run_id", "soak"),
                            Attribute::int("seq", seq),
                            Attribute::string("step", "transform"),
                        ]),
                    );
                    span.end();
                    seq += 1;
                }
                written.store(seq as u64, Ordering::Relaxed);
                next += Duration::from_millis(10);
                match next.checked_duration_since(Instant::now()) {
                    Some(d) => std::thread::sleep(d),
                    // Fell behind (a slow machine): catch up from now rather than burst.
                    None => next = Instant::now(),
                }
            }
        })
    };

    let start = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    while start.elapsed() < duration {
        tokio::time::sleep(SAMPLE_EVERY.min(duration.saturating_sub(start.elapsed()))).await;
        let s = Sample {
            at: start.elapsed(),
            written: written.load(Ordering::Relaxed) as usize,
            rss: rss_bytes(),
            fds: open_fds(),
            connections: nats_connections(&http, &monitor).await,
        };
        let (received, _, _) = receiver.tally(s.written);
        eprintln!(
            "soak {:>5.1} s: written {:>8}, received {:>8}, RSS {:>6.1} MiB, fds {:>3}, NATS connections {}",
            s.at.as_secs_f64(),
            s.written,
            received,
            mib(s.rss),
            s.fds,
            s.connections
        );
        samples.push(s);
    }
    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || producer.join().expect("producer panicked")).await.unwrap();
    let total_written = written.load(Ordering::Relaxed) as usize;
    assert!(total_written <= capacity, "the receiver's table is large enough");
    tel.flush(PATIENCE).expect("the collector delivered everything");
    eventually("every span written reaches the receiver", || receiver.tally(total_written).0 == total_written).await;
    // Let anything still on its way (a redelivery) land before counting duplicates.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let snap = stats.snapshot();
    bridge.stop().await;
    let dropped = tel.dropped();
    tel.shutdown(Duration::from_secs(5)).expect("collector shut down");

    let (distinct, received, stray) = receiver.tally(total_written);
    let duplicated = received - distinct as u64;
    let peak = peak_rss_bytes();
    let steady: Vec<&Sample> = samples.iter().filter(|s| s.at >= warm_up).collect();
    assert!(steady.len() >= 2, "at least two samples after warm-up: {samples:?}");
    let (first, last) = (steady[0], *steady.last().unwrap());
    let rss_margin = RSS_MARGIN_BYTES.max((first.rss as f64 * RSS_MARGIN_FRACTION) as u64);
    println!(
        "soak figures: {seconds} s at {} spans/s: spans written {total_written}, received {received}, duplicated {duplicated}, \
         dropped {dropped}, peak RSS {:.1} MiB (after warm-up {:.1} -> {:.1} MiB), fds {} -> {}, NATS connections {}, \
         bridge redelivered {}",
        per_tick * 100,
        mib(peak),
        mib(first.rss),
        mib(last.rss),
        first.fds,
        last.fds,
        last.connections,
        snap.signal(Signal::Spans).redelivered,
    );

    assert_eq!(distinct, total_written, "every span written reached the receiver");
    assert_eq!(stray, 0, "nothing arrived that was not written");
    assert_eq!(received, total_written as u64, "the receiver's count equals the producer's");
    assert_eq!(dropped, 0, "nothing dropped by the collector");
    assert_eq!(snap.total().dead_lettered, 0);
    assert!(
        last.rss <= first.rss + rss_margin,
        "RSS grew after warm-up from {:.1} to {:.1} MiB (margin {:.1} MiB)",
        mib(first.rss),
        mib(last.rss),
        mib(rss_margin)
    );
    assert!(last.fds <= first.fds + FD_MARGIN, "open descriptors grew after warm-up: {} -> {}", first.fds, last.fds);
    assert!(
        steady.iter().all(|s| s.connections == first.connections),
        "NATS connections changed after warm-up: {:?}",
        steady.iter().map(|s| s.connections).collect::<Vec<_>>()
    );
    assert_eq!(first.connections, 2, "the collector's and the bridge's connections, no more");
}
