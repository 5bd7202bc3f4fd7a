//! Recording on a hot series in the engine format (aggregated in the process): a counter
//! increment and a histogram observation with two attributes, beside the same instruments
//! of `opentelemetry_sdk` (an `SdkMeterProvider` with a `PeriodicReader` whose interval
//! never comes while measured) in the same run. Both aggregate in place; neither exports
//! while measured.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, Criterion};
use dagnats_observe::{NoopSink, Telemetry, TelemetryFormat};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};

#[path = "support/ratio.rs"]
mod ratio;

/// An interval that never fires while the bench runs.
const NEVER: Duration = Duration::from_secs(24 * 3600);

/// Never called while measured.
struct DiscardExporter;

impl PushMetricExporter for DiscardExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        black_box(metrics);
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

fn hot_series(c: &mut Criterion) {
    let tel = Telemetry::with_sink_format("bench", Arc::new(NoopSink), TelemetryFormat::Engine, NEVER);
    let tags: &[(&str, &str)] = &[("queue", "default"), ("step", "build")];
    let counter = tel.metrics.counter("tasks.completed");
    let histogram = tel.metrics.histogram("task.duration_ms");

    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(DiscardExporter).with_interval(NEVER).build())
        .build();
    let meter = provider.meter("bench");
    let attributes = [KeyValue::new("queue", "default"), KeyValue::new("step", "build")];
    let otel_counter = meter.f64_counter("tasks.completed").build();
    let otel_histogram = meter.f64_histogram("task.duration_ms").build();

    let mut group = c.benchmark_group("counter_add");
    group.bench_function("dagnats", |b| b.iter(|| counter.add(black_box(1.0), black_box(tags))));
    group.bench_function("opentelemetry_sdk", |b| b.iter(|| otel_counter.add(black_box(1.0), black_box(&attributes))));
    group.finish();

    let mut group = c.benchmark_group("histogram_record");
    let mut v = 0.0f64;
    group.bench_function("dagnats", |b| {
        b.iter(|| {
            v = if v > 12_000.0 { 0.0 } else { v + 37.5 };
            histogram.record(black_box(v), black_box(tags))
        })
    });
    let mut v = 0.0f64;
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            v = if v > 12_000.0 { 0.0 } else { v + 37.5 };
            otel_histogram.record(black_box(v), black_box(&attributes))
        })
    });
    group.finish();
    let _ = provider.shutdown();
    let _ = tel.shutdown(Duration::from_secs(1));
}

criterion_group!(benches, hot_series);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio::print_ratio("counter add, hot series", "counter_add/dagnats", "counter_add/opentelemetry_sdk", 2.0);
    ratio::print_ratio(
        "histogram record, hot series",
        "histogram_record/dagnats",
        "histogram_record/opentelemetry_sdk",
        2.0,
    );
}
