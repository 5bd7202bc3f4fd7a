//! The core's own figure for the C benchmark (bindings/c/tests/bench.c): the same span
//! shape through the Rust API, measured in the same process and run. Built as a static
//! archive that scripts/test-c links into the benchmark program beside the shared
//! libdagnats_observe, so the shipped library carries no benchmark entry point.

use std::hint::black_box;
use std::time::Instant;

use dagnats_observe::{Attribute, SpanKind, SpanOptions, Telemetry};

/// Nanoseconds per span for `iterations` spans started, given 4 attributes (two strings,
/// an int64, a bool) and ended, through the Rust core with a no-op sink: what
/// `bench.c` does through the C ABI. Not in the header: the benchmark declares it itself.
#[no_mangle]
pub extern "C" fn dagnats_bench_core_span_ns(iterations: u64) -> f64 {
    let outcome = std::panic::catch_unwind(|| {
        let tel = Telemetry::noop("bench");
        let tracer = &tel.tracer;
        let iterations = iterations.max(1);
        let started = Instant::now();
        for _ in 0..iterations {
            let mut span = tracer.start_span("worker.executeTask", None, SpanOptions::new().kind(SpanKind::Server));
            span.set_attribute(Attribute::string("run_id", "r-42"));
            span.set_attribute(Attribute::string("step_id", "build"));
            span.set_attribute(Attribute::int("attempt", 2));
            span.set_attribute(Attribute::bool("cached", false));
            span.end();
            black_box(&span);
        }
        started.elapsed().as_nanos() as f64 / iterations as f64
    });
    outcome.unwrap_or(f64::NAN)
}
