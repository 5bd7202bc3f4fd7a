//! Encoding one finished span: the record format beside the engine's dialect (a bare OTLP
//! Span in protobuf's canonical JSON), the work the collector's thread does per span.
//!
//! Run with `cargo bench -p dagnats-observe --bench encode`; it prints the engine
//! dialect's cost as a multiple of the record format's (target: within 1.5x).

use std::hint::black_box;

use criterion::{criterion_group, Criterion};
use dagnats_observe::record::{Record, SpanRecord};
use dagnats_observe::{engine, Attribute, Context, SpanKind, SpanOptions, Telemetry, TelemetryFormat};

#[path = "support/ratio.rs"]
mod ratio;

/// A worker's typical span: a remote parent, five attributes of the four types, one event.
fn typical_span() -> SpanRecord {
    let (tel, memory) = Telemetry::in_memory("py-worker");
    let (cx, mut parent) = tel.tracer.start(&Context::new(), "engine.dispatch", SpanOptions::new());
    let (_, mut span) = tel.tracer.start(
        &cx,
        "worker.executeTask",
        SpanOptions::new().kind(SpanKind::Consumer).attributes([
            Attribute::string("run_id", "7a3c1e52b0d94f8e9c2d4b6a8e0f1a2b"),
            Attribute::string("step_id", "build"),
            Attribute::int("attempt", 2),
            Attribute::float("ratio", 0.25),
            Attribute::bool("cached", false),
        ]),
    );
    span.add_event("cache.miss", [Attribute::string("key", "deps")]);
    span.end();
    parent.end();
    memory.spans().remove(0)
}

fn encode(c: &mut Criterion) {
    let span = Record::Span(Box::new(typical_span()));
    let mut group = c.benchmark_group("encode_span");
    group.bench_function("records", |b| b.iter(|| black_box(TelemetryFormat::Records.encode(black_box(&span)))));
    group.bench_function("engine", |b| b.iter(|| black_box(TelemetryFormat::Engine.encode(black_box(&span)))));
    group.finish();
    // The two bodies say the same: the engine's reads back to the record.
    let Record::Span(record) = &span else { unreachable!() };
    let back = engine::decode_span(&engine::encode_span(record), "py-worker").expect("engine body reads back");
    assert_eq!((back.trace_id, back.span_id, back.attributes.len()), (record.trace_id, record.span_id, 5));
}

criterion_group!(benches, encode);

fn main() {
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
    match (ratio::mean_ns("encode_span/engine"), ratio::mean_ns("encode_span/records")) {
        (Some(engine), Some(records)) => {
            let ratio = engine / records;
            println!(
                "RATIO encode span: engine dialect {engine:.0} ns, record format {records:.0} ns -> {ratio:.2}x the record format's cost (target within 1.5x: {})",
                if ratio <= 1.5 { "met" } else { "NOT met" }
            );
        }
        _ => println!("RATIO encode span: no estimates (run without --test to measure)"),
    }
}
