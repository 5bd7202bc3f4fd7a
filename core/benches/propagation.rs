//! W3C trace context propagation: traceparent parse/format, tracestate parse, and
//! extraction from a 5-header message.
//!
//! `cargo bench -p dagnats-observe --bench propagation` (add `-- --quick` for a fast run).
//! After criterion's report, a plain `name: N ns/op` summary is printed.

use std::hint::black_box;
use std::time::Instant;

use async_nats::HeaderMap;
use criterion::{criterion_group, Criterion};
use dagnats_observe::propagation::{
    extract_from_headers, extract_nats, format_traceparent, header_pairs, inject_nats, parse_traceparent, TraceFlags,
    TraceState,
};
use dagnats_observe::{SpanId, TraceId};

#[path = "support/ratio.rs"]
mod ratio;

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TS: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,dd=s:1;t.dm:-4";
const TS_OWS: &str = "rojo=00f067aa0ba902b7 , congo=t61rcWkgMzE,, dd=s:1;t.dm:-4 ";

fn five_headers() -> [(&'static str, &'static str); 5] {
    [
        ("Nats-Msg-Id", "2b0c7c7e-5f1a-4c43-9b7e-6f5f4b1d2a10"),
        ("content-type", "application/json"),
        ("TraceParent", TP),
        ("tracestate", TS),
        ("dagnats-run", "run-20240101-000001"),
    ]
}

fn nats_headers() -> HeaderMap {
    let mut map = HeaderMap::new();
    for (n, v) in five_headers() {
        map.insert(n, v);
    }
    map
}

fn ids() -> (TraceId, SpanId) {
    (
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("valid"),
        SpanId::from_hex("00f067aa0ba902b7").expect("valid"),
    )
}

fn bench(c: &mut Criterion) {
    let (trace, span) = ids();
    let headers = five_headers();
    let map = nats_headers();
    let sc = extract_nats(Some(&map), None).expect("valid");

    c.bench_function("traceparent/parse", |b| b.iter(|| parse_traceparent(black_box(TP))));
    c.bench_function("traceparent/format", |b| {
        b.iter(|| format_traceparent(black_box(trace), black_box(span), black_box(TraceFlags(1))))
    });
    c.bench_function("tracestate/parse", |b| b.iter(|| TraceState::parse(black_box(TS))));
    c.bench_function("tracestate/parse_normalizing", |b| b.iter(|| TraceState::parse(black_box(TS_OWS))));
    c.bench_function("extract/5_headers", |b| b.iter(|| extract_from_headers(black_box(headers))));
    c.bench_function("extract/nats_5_headers", |b| b.iter(|| extract_nats(Some(black_box(&map)), None)));
    c.bench_function("inject/nats", |b| {
        b.iter(|| {
            let mut m = HeaderMap::new();
            inject_nats(black_box(&sc), &mut m);
            m
        })
    });
}

/// The same carrier work beside opentelemetry_sdk's TraceContextPropagator: extract a
/// parent from a header map holding traceparent + tracestate, and inject one into a map.
fn versus_opentelemetry(c: &mut Criterion) {
    use std::collections::HashMap;

    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry_sdk::propagation::TraceContextPropagator;

    let carrier: HashMap<String, String> =
        [("traceparent".to_string(), TP.to_string()), ("tracestate".to_string(), TS.to_string())].into();
    let otel = TraceContextPropagator::new();

    let mut group = c.benchmark_group("extract_traceparent_and_tracestate");
    group.bench_function("dagnats", |b| b.iter(|| extract_from_headers(black_box(&carrier))));
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| otel.extract(black_box(&carrier)).span().span_context().clone())
    });
    group.finish();

    let ours = extract_from_headers(&carrier).expect("valid");
    let theirs = otel.extract(&carrier);
    let mut group = c.benchmark_group("inject_traceparent_and_tracestate");
    group.bench_function("dagnats", |b| {
        b.iter(|| {
            let mut out: HashMap<String, String> = HashMap::with_capacity(2);
            for (k, v) in header_pairs(black_box(&ours)) {
                out.insert(k.to_owned(), v);
            }
            out
        })
    });
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            let mut out: HashMap<String, String> = HashMap::with_capacity(2);
            otel.inject_context(black_box(&theirs), &mut out);
            out
        })
    });
    group.finish();
}

criterion_group!(benches, bench, versus_opentelemetry);

/// Mean time of `f` over a fixed number of calls, in nanoseconds.
fn ns_per_op<R>(iters: u32, mut f: impl FnMut() -> R) -> f64 {
    for _ in 0..iters / 10 {
        black_box(f());
    }
    let start = Instant::now();
    for _ in 0..iters {
        black_box(f());
    }
    start.elapsed().as_nanos() as f64 / f64::from(iters)
}

fn summary() {
    let (trace, span) = ids();
    let headers = five_headers();
    let map = nats_headers();
    let n = 200_000;
    println!("\npropagation ns/op (mean of {n} calls):");
    let rows: [(&str, f64); 5] = [
        ("traceparent parse", ns_per_op(n, || parse_traceparent(black_box(TP)))),
        ("traceparent format", ns_per_op(n, || format_traceparent(black_box(trace), black_box(span), TraceFlags(1)))),
        ("tracestate parse (3 members)", ns_per_op(n, || TraceState::parse(black_box(TS)))),
        ("extract from 5-header list", ns_per_op(n, || extract_from_headers(black_box(headers)))),
        ("extract_nats from 5-header map", ns_per_op(n, || extract_nats(Some(black_box(&map)), None))),
    ];
    for (name, ns) in rows {
        println!("  {name:<32} {ns:>8.1} ns/op");
    }
    for (label, op) in [("traceparent parse", "traceparent_parse"), ("traceparent format", "traceparent_format")] {
        match ratio::mean_ns(op) {
            Some(ns) => println!(
                "TARGET {label}: {ns:.1} ns (target under 100 ns: {})",
                if ns < 100.0 { "met" } else { "NOT met" }
            ),
            None => println!("TARGET {label}: no estimate"),
        }
    }
    ratio::print_ratio(
        "extract traceparent+tracestate",
        "extract_traceparent_and_tracestate/dagnats",
        "extract_traceparent_and_tracestate/opentelemetry_sdk",
        1.0,
    );
    ratio::print_ratio(
        "inject traceparent+tracestate",
        "inject_traceparent_and_tracestate/dagnats",
        "inject_traceparent_and_tracestate/opentelemetry_sdk",
        1.0,
    );
}

fn main() {
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
    // Only under `cargo bench` (which passes --bench), not when run as a test.
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}
