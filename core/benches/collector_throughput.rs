//! Collector throughput: spans/s published to a local JetStream and acknowledged, beside
//! the raw rate of async-nats publishing the same bodies with `Nats-Msg-Id` and a window
//! of acknowledgements in flight, measured in the same run against the same server.
//!
//! Both dialects are measured, each beside the raw rate of its own bodies: the record
//! format and the engine's (bare OTLP Spans in protobuf's canonical JSON).
//!
//! Run with `cargo bench -p dagnats-observe --bench collector_throughput`
//! (`-- --spans N` to change the count; `--test` runs a small smoke version).

use std::time::{Duration, Instant};

use std::future::IntoFuture;

use async_nats::jetstream::{self, message::PublishMessage};
use dagnats_observe::collector::stream::{stream_config, STREAM_NAME};
use dagnats_observe::collector::subject::{msg_id_for, subject_for};
use dagnats_observe::record::Record;
use dagnats_observe::TelemetryFormat;
use dagnats_observe::{Attribute, CollectorOptions, Context, MemorySink, SpanOptions, Telemetry};
use futures::stream::{FuturesUnordered, StreamExt};
use testkit::NatsServer;

const WINDOW: usize = 512;

fn make_spans(n: usize) -> Vec<Record> {
    let (tel, memory) = Telemetry::in_memory("bench-worker");
    for i in 0..n {
        let (_, mut s) = tel.tracer.start(
            &Context::new(),
            "worker.executeTask",
            SpanOptions::new().attributes([Attribute::string("run_id", "r-bench"), Attribute::int("i", i as i64)]),
        );
        s.set_attribute(Attribute::string("step_id", "build"));
        s.set_attribute(Attribute::bool("cached", false));
        s.end();
    }
    let records = memory.take();
    drop::<std::sync::Arc<MemorySink>>(memory);
    records
}

async fn purge(js: &jetstream::Context) {
    let _ = js.delete_stream(STREAM_NAME).await;
    js.create_stream(stream_config()).await.expect("create stream");
}

/// async-nats alone: pre-serialized bodies, acked publishes, WINDOW acks in flight.
async fn raw_rate(js: &jetstream::Context, records: &[Record], format: TelemetryFormat) -> f64 {
    let bodies: Vec<(String, String, bytes::Bytes)> =
        records.iter().map(|r| (subject_for(r, format), msg_id_for(r, format), format.encode(r).into())).collect();
    let start = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    for (subject, id, body) in bodies {
        if in_flight.len() >= WINDOW {
            let acked: Result<_, _> = in_flight.next().await.unwrap();
            acked.expect("ack");
        }
        let ack =
            js.send_publish(subject, PublishMessage::build().payload(body).message_id(id)).await.expect("publish");
        in_flight.push(ack.into_future());
    }
    while let Some(ack) = in_flight.next().await {
        ack.expect("ack");
    }
    records.len() as f64 / start.elapsed().as_secs_f64()
}

/// The collector: records handed to the sink as span ends would, until all are acked.
fn collector_rate(url: &str, records: Vec<Record>, format: TelemetryFormat) -> f64 {
    let n = records.len();
    let options = CollectorOptions {
        buffer_capacity: n,
        max_in_flight: WINDOW,
        format: Some(format),
        ..CollectorOptions::default().url(url).service("bench-worker")
    };
    let tel = Telemetry::connect(options).expect("connect");
    let start = Instant::now();
    for r in records {
        tel.sink().export(r);
    }
    tel.flush(Duration::from_secs(120)).expect("flush");
    let rate = n as f64 / start.elapsed().as_secs_f64();
    assert_eq!(tel.dropped(), 0);
    tel.shutdown(Duration::from_secs(5)).expect("shutdown");
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
    let js = rt.block_on(async { jetstream::new(async_nats::connect(server.url()).await.unwrap()) });

    for format in TelemetryFormat::ALL {
        let (mut best_raw, mut best_ours) = (0f64, 0f64);
        for round in 1..=rounds {
            rt.block_on(purge(&js));
            let raw = rt.block_on(raw_rate(&js, &make_spans(n), format));
            rt.block_on(purge(&js));
            let ours = collector_rate(&server.url(), make_spans(n), format);
            println!("{format} round {round}: raw async-nats {raw:.0} msgs/s, collector {ours:.0} spans/s");
            best_raw = best_raw.max(raw);
            best_ours = best_ours.max(ours);
        }
        let ratio = best_ours / best_raw;
        println!(
            "RATIO collector throughput, {format} ({n} spans, best of {rounds}): collector {best_ours:.0} spans/s, raw async-nats {best_raw:.0} msgs/s -> {ratio:.2}x of raw (target 0.9x: {})",
            if ratio >= 0.9 { "met" } else { "NOT met" }
        );
    }
}
