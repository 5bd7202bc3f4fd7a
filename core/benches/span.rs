//! Span start + 4 attributes + 1 event + end, with the span made current, beside the same
//! shape in `opentelemetry_sdk` (batch processor, an exporter that discards) in the same
//! run. Both deliver through a bounded queue to a background thread that discards.

use std::hint::black_box;
use std::sync::Arc;
use std::thread;

use criterion::{criterion_group, Criterion};
use dagnats_observe::collector::RecordQueue;
use dagnats_observe::record::Record;
use dagnats_observe::{Attribute, Context, Sink, SpanKind, SpanOptions, Telemetry};
use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};

#[path = "support/ratio.rs"]
mod ratio;

/// The collector's own queue without NATS: records are pushed into a `RecordQueue`, and a
/// background thread takes them off and, as the collector does once a record is
/// serialized, hands span records back for reuse.
struct QueueSink(Arc<RecordQueue>);

impl QueueSink {
    fn start() -> Arc<QueueSink> {
        let queue = Arc::new(RecordQueue::new(16_384, 512));
        let consumer = Arc::clone(&queue);
        thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                loop {
                    while let Some(r) = consumer.pop() {
                        if let Record::Span(span) = black_box(r) {
                            dagnats_observe::record::recycle(span);
                        }
                    }
                    consumer.wait(false).await;
                }
            })
        });
        Arc::new(QueueSink(queue))
    }
}

impl Sink for QueueSink {
    fn export(&self, record: Record) {
        let _ = self.0.push(record);
    }
}

#[derive(Debug)]
struct DiscardExporter;

impl SpanExporter for DiscardExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(black_box(batch));
        Ok(())
    }
}

fn span_lifecycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("span_lifecycle");

    let tel = Telemetry::with_sink("bench", QueueSink::start());
    let root = Context::new();
    group.bench_function("dagnats", |b| {
        b.iter(|| {
            let (cx, mut span) =
                tel.tracer.start(&root, "worker.executeTask", SpanOptions::new().kind(SpanKind::Server));
            span.set_attribute(Attribute::string("run_id", "r-42"));
            span.set_attribute(Attribute::string("step_id", "build"));
            span.set_attribute(Attribute::int("attempt", 2));
            span.set_attribute(Attribute::bool("cached", false));
            span.add_event("cache.miss", []);
            span.end();
            black_box(cx);
        })
    });

    let provider =
        SdkTracerProvider::builder().with_span_processor(BatchSpanProcessor::builder(DiscardExporter).build()).build();
    let tracer = provider.tracer("bench");
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            let span = tracer
                .span_builder("worker.executeTask")
                .with_kind(opentelemetry::trace::SpanKind::Server)
                .start(&tracer);
            let cx = opentelemetry::Context::current_with_span(span);
            let _guard = cx.clone().attach();
            let span = cx.span();
            span.set_attribute(KeyValue::new("run_id", "r-42"));
            span.set_attribute(KeyValue::new("step_id", "build"));
            span.set_attribute(KeyValue::new("attempt", 2i64));
            span.set_attribute(KeyValue::new("cached", false));
            span.add_event("cache.miss", vec![]);
            span.end();
        })
    });
    group.finish();
    let _ = provider.shutdown();
}

criterion_group!(benches, span_lifecycle);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio::print_ratio(
        "span start+4 attrs+event+end",
        "span_lifecycle/dagnats",
        "span_lifecycle/opentelemetry_sdk",
        2.0,
    );
}
