//! Bridge throughput: spans/s from a pre-filled TELEMETRY stream through the bridge
//! library to a local OTLP/HTTP receiver answering 200 (which gunzips and decodes every
//! request to count the spans) and to a local OTLP/gRPC receiver (tonic, opentelemetry-
//! proto's collector services, gzip, decoding every request to count the spans), beside
//! the raw consume rate of the same stream (fetch 100, explicit ack of each message, no
//! export) measured in the same run.
//!
//! Run with `cargo bench -p dagnats-bridge --bench bridge_throughput`
//! (`-- --spans N` to change the count; `--test` runs a small smoke version).

#[path = "../tests/support/grpc_receiver.rs"]
mod grpc_receiver;
#[path = "../tests/support/receiver.rs"]
mod receiver;

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, message::PublishMessage};
use dagnats_bridge::cli::Protocol;
use dagnats_bridge::{Bridge, Config, Signal};
use dagnats_observe::collector::stream::{stream_config, STREAM_NAME};
use dagnats_observe::collector::subject::{msg_id_for, subject_for};
use dagnats_observe::TelemetryFormat;
use dagnats_observe::{Attribute, Context, SpanKind, SpanOptions, Telemetry};
use futures::stream::{FuturesUnordered, StreamExt};
use grpc_receiver::GrpcReceiver;
use receiver::Receiver;
use testkit::NatsServer;

/// The allocator of the `dagnats` binary (see its main.rs), so that the bench measures
/// what operators run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WINDOW: usize = 512;

/// CPU time used by this process so far (user and system, every thread; nats-server,
/// a child process, is not counted). A steadier figure than the rates on a busy machine:
/// it says what a span costs the bridge (and the receiver), whatever the waiting.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime
    // the 13th, in clock ticks of 1/100 s.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Microseconds of `cpu` per item of `n`.
fn per_item(cpu: Duration, n: usize) -> f64 {
    cpu.as_secs_f64() * 1e6 / n as f64
}

/// Fills TELEMETRY with `n` spans as a worker's collector writes them in `format`.
async fn prefill(js: &jetstream::Context, n: usize, format: TelemetryFormat) {
    let _ = js.delete_stream(STREAM_NAME).await;
    js.create_stream(stream_config()).await.expect("create stream");
    let (tel, memory) = Telemetry::in_memory("bench-worker");
    let mut in_flight = FuturesUnordered::new();
    for i in 0..n {
        let (_, mut s) = tel.tracer.start(
            &Context::new(),
            "worker.executeTask",
            SpanOptions::new()
                .kind(SpanKind::Server)
                .attributes([Attribute::string("run_id", "r-bench"), Attribute::int("i", i as i64)]),
        );
        s.set_attribute(Attribute::string("step_id", "build"));
        s.set_attribute(Attribute::bool("cached", false));
        s.end();
        for r in memory.take() {
            if in_flight.len() >= WINDOW {
                let acked: Result<_, _> = in_flight.next().await.unwrap();
                acked.expect("ack");
            }
            let message = PublishMessage::build().payload(format.encode(&r).into()).message_id(msg_id_for(&r, format));
            let ack = js.send_publish(subject_for(&r, format), message).await.expect("publish");
            in_flight.push(ack.into_future());
        }
    }
    while let Some(ack) = in_flight.next().await {
        ack.expect("ack");
    }
}

/// The raw rate: one durable pull consumer, fetches of 100 (the bridge's pull request),
/// every message acknowledged, nothing else.
async fn raw_rate(js: &jetstream::Context, name: &str, n: usize) -> f64 {
    let stream = js.get_stream(STREAM_NAME).await.unwrap();
    let c: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(name.into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let start = Instant::now();
    let mut seen = 0;
    while seen < n {
        let mut batch = c.fetch().max_messages(100).expires(Duration::from_secs(1)).messages().await.unwrap();
        while let Some(m) = batch.next().await {
            m.unwrap().ack().await.unwrap();
            seen += 1;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Where the bridge exports in one measurement.
enum Target<'a> {
    Http(&'a Receiver),
    Grpc(&'a GrpcReceiver),
}

impl Target<'_> {
    fn span_count(&self) -> u64 {
        match self {
            Target::Http(r) => r.span_count(),
            Target::Grpc(r) => r.span_count(),
        }
    }
}

/// The bridge with its defaults (but its own consumer name, and the protocol of
/// `target`) until every span is exported. Its consumer is created beforehand, as the raw
/// side's is; the time includes the bridge's connecting and looking the consumer up.
async fn bridge_rate(js: &jetstream::Context, url: &str, target: Target<'_>, name: &str, n: usize) -> f64 {
    let before = target.span_count();
    let mut config = match target {
        Target::Http(r) => Config::new(url, &r.base_url()),
        Target::Grpc(r) => {
            let mut c = Config::new(url, "http://127.0.0.1:9");
            for s in Signal::ALL {
                c.endpoint_mut(s).protocol = Protocol::Grpc;
                c.endpoint_mut(s).url = r.url();
            }
            c
        }
    };
    config.consumer = name.into();
    config.stats_interval = Duration::ZERO;
    let stream = js.get_stream(STREAM_NAME).await.unwrap();
    stream.create_consumer(dagnats_bridge::consume::consumer_config(&config)).await.unwrap();
    let bridge = Bridge::new(config);
    let stats = bridge.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let running = tokio::spawn(bridge.run(async {
        let _ = stopped.await;
    }));
    while (stats.snapshot().signal(Signal::Spans).exported_records as usize) < n {
        tokio::time::sleep(Duration::from_millis(2)).await;

        assert!(start.elapsed() < Duration::from_secs(300), "the bridge stalled");
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = stop.send(());
    running.await.unwrap().expect("bridge");
    let snap = stats.snapshot();
    assert_eq!(snap.total().dead_lettered, 0);
    assert_eq!(target.span_count() - before, n as u64, "the receiver counted every span once");
    rate
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--test");
    let n = args
        .iter()
        .position(|a| a == "--spans")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(if smoke { 2_000 } else { 100_000 });
    let rounds = if smoke { 1 } else { 3 };

    let server = NatsServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
        let receiver = Receiver::start_counting().await;
        let grpc_receiver = GrpcReceiver::start_counting().await;
        let fill = Instant::now();
        prefill(&js, n, TelemetryFormat::Records).await;
        println!("pre-filled TELEMETRY with {n} spans in {:.1}s", fill.elapsed().as_secs_f64());

        let (mut best_raw, mut best_bridge, mut best_grpc) = (0f64, 0f64, 0f64);
        for round in 1..=rounds {
            let cpu = process_cpu();
            let raw = raw_rate(&js, &format!("raw-{round}"), n).await;
            let (cpu, raw_cpu) = (process_cpu(), per_item(process_cpu() - cpu, n));
            let bridge = bridge_rate(&js, &server.url(), Target::Http(&receiver), &format!("otlp-bridge-{round}"), n).await;
            let (cpu, http_cpu) = (process_cpu(), per_item(process_cpu() - cpu, n));
            let grpc = bridge_rate(&js, &server.url(), Target::Grpc(&grpc_receiver), &format!("otlp-bridge-grpc-{round}"), n).await;
            let grpc_cpu = per_item(process_cpu() - cpu, n);
            println!(
                "round {round}: raw fetch+ack {raw:.0} msgs/s, bridge OTLP/HTTP {bridge:.0} spans/s, bridge OTLP/gRPC {grpc:.0} spans/s \
                 (CPU of this process per span, receiver included: raw {raw_cpu:.2} us, HTTP {http_cpu:.2} us, gRPC {grpc_cpu:.2} us)"
            );
            best_raw = best_raw.max(raw);
            best_bridge = best_bridge.max(bridge);
            best_grpc = best_grpc.max(grpc);
        }
        let ratio = best_bridge / best_raw;
        let grpc_ratio = best_grpc / best_raw;
        let met = ratio >= 0.9;
        let grpc_met = grpc_ratio >= 0.9;
        println!(
            "RATIO bridge throughput ({n} spans, best of {rounds}): bridge {best_bridge:.0} spans/s, raw fetch+ack {best_raw:.0} msgs/s -> {ratio:.2}x of raw (target 0.9x: {})",
            if smoke {
                "smoke run, too small to judge"
            } else if met {
                "met"
            } else {
                "NOT met"
            }
        );
        println!(
            "RATIO bridge OTLP/gRPC throughput ({n} spans, best of {rounds}): bridge {best_grpc:.0} spans/s, raw fetch+ack {best_raw:.0} msgs/s -> {grpc_ratio:.2}x of raw (target 0.9x: {})",
            if smoke {
                "smoke run, too small to judge"
            } else if grpc_met {
                "met"
            } else {
                "NOT met"
            }
        );

        // The same spans in the engine's dialect (bare OTLP Spans in protobuf's JSON),
        // exported over OTLP/HTTP, beside the records' best rate of this run.
        prefill(&js, n, TelemetryFormat::Engine).await;
        let mut best_engine = 0f64;
        for round in 1..=rounds {
            let cpu = process_cpu();
            let engine = bridge_rate(&js, &server.url(), Target::Http(&receiver), &format!("engine-{round}"), n).await;
            let engine_cpu = per_item(process_cpu() - cpu, n);
            println!("engine round {round}: bridge OTLP/HTTP {engine:.0} spans/s ({engine_cpu:.2} us CPU per span)");
            best_engine = best_engine.max(engine);
        }
        let engine_ratio = best_engine / best_bridge;
        println!(
            "RATIO bridge throughput on engine spans ({n} spans, best of {rounds}): {best_engine:.0} spans/s, on records {best_bridge:.0} spans/s -> {engine_ratio:.2}x of records (target 0.8x: {})",
            if smoke {
                "smoke run, too small to judge"
            } else if engine_ratio >= 0.8 {
                "met"
            } else {
                "NOT met"
            }
        );
    });
}
