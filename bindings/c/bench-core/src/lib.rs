//! The core's own figure for the C benchmark (bindings/c/tests/bench.c): the same span
//! shape through the Rust API, run in the same process and timed by the benchmark with
//! the same clock as the C ABI's. Built as a static archive that scripts/test-c links
//! into the benchmark program beside the shared libdagnats_observe, so the shipped
//! library carries no benchmark entry point.

use std::hint::black_box;

use dagnats_observe::{Attribute, SpanKind, SpanOptions, Telemetry};

/// A no-op telemetry for [`dagnats_bench_core_spans`], freed by
/// [`dagnats_bench_core_free`]: what `bench.c` gets from `dagnats_telemetry_noop`.
#[no_mangle]
pub extern "C" fn dagnats_bench_core_new() -> *mut Telemetry {
    Box::into_raw(Box::new(Telemetry::noop("bench")))
}

/// Frees what [`dagnats_bench_core_new`] returned.
///
/// # Safety
/// `tel` came from `dagnats_bench_core_new` and is freed once.
#[no_mangle]
pub unsafe extern "C" fn dagnats_bench_core_free(tel: *mut Telemetry) {
    if !tel.is_null() {
        drop(Box::from_raw(tel));
    }
}

/// Starts `iterations` spans, gives each 4 attributes (two strings, an int64, a bool)
/// and ends it, through the Rust core: what `bench.c` does through the C ABI. Returns
/// false if it panicked. Not in the header: the benchmark declares it itself.
///
/// # Safety
/// `tel` came from `dagnats_bench_core_new` and is not freed yet.
#[no_mangle]
pub unsafe extern "C" fn dagnats_bench_core_spans(tel: *const Telemetry, iterations: u64) -> bool {
    let Some(tel) = tel.as_ref() else { return false };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let tracer = &tel.tracer;
        for _ in 0..iterations {
            let mut span = tracer.start_span("worker.executeTask", None, SpanOptions::new().kind(SpanKind::Server));
            span.set_attribute(Attribute::string("run_id", "r-42"));
            span.set_attribute(Attribute::string("step_id", "build"));
            span.set_attribute(Attribute::int("attempt", 2));
            span.set_attribute(Attribute::bool("cached", false));
            span.end();
            black_box(&span);
        }
    }))
    .is_ok()
}
