//! Metric instruments: `dagnats_counter`, `dagnats_gauge`, `dagnats_histogram`. Each
//! call publishes one metric point (subject `telemetry.metrics.{service}.{name}`).

use std::ffi::c_char;

use dagnats_observe::{Counter, Gauge, Histogram};

use crate::cstr::{null, str_arg};
use crate::handle::{free_boxed, out_arg, to_boxed, try_ref, Castable};
use crate::panic::ffi_boundary;
use crate::result::{dagnats_result, Failure, FfiResult};
use crate::telemetry::{dagnats_telemetry, live};

/// One metric tag: a key and a value, both NUL-terminated UTF-8, owned by the caller.
#[repr(C)]
pub struct dagnats_tag {
    /// Tag key.
    pub key: *const c_char,
    /// Tag value.
    pub value: *const c_char,
}

/// A monotonic counter: each `dagnats_counter_add` publishes its increment.
///
/// Created by `dagnats_telemetry_counter`, freed by `dagnats_counter_free`.
/// Thread-safety: may be shared between threads and used by many at once.
pub struct dagnats_counter {
    _private: [u8; 0],
}

/// A gauge: each `dagnats_gauge_set` publishes the new level.
///
/// Created by `dagnats_telemetry_gauge`, freed by `dagnats_gauge_free`.
/// Thread-safety: may be shared between threads and used by many at once.
pub struct dagnats_gauge {
    _private: [u8; 0],
}

/// A histogram: each `dagnats_histogram_record` publishes one observation.
///
/// Created by `dagnats_telemetry_histogram`, freed by `dagnats_histogram_free`.
/// Thread-safety: may be shared between threads and used by many at once.
pub struct dagnats_histogram {
    _private: [u8; 0],
}

impl Castable for dagnats_counter {
    type RustType = Counter;
}
impl Castable for dagnats_gauge {
    type RustType = Gauge;
}
impl Castable for dagnats_histogram {
    type RustType = Histogram;
}

/// Reads `len` tags (NULL when `len` is 0) and runs `f` on them as `(key, value)` pairs.
unsafe fn with_tags(tags: *const dagnats_tag, len: usize, f: impl FnOnce(&[(&str, &str)])) -> FfiResult<()> {
    if len == 0 {
        f(&[]);
        return Ok(());
    }
    if tags.is_null() {
        return Err(null("tags"));
    }
    let mut pairs = Vec::with_capacity(len);
    for (i, t) in std::slice::from_raw_parts(tags, len).iter().enumerate() {
        let at = |f: Failure| Failure::new(f.code, format!("tags[{i}].{}", f.message));
        pairs.push((str_arg(t.key, "key").map_err(at)?, str_arg(t.value, "value").map_err(at)?));
    }
    f(&pairs);
    Ok(())
}

/// Creates a counter named `name` (dots allowed, for example `"tasks.completed"`).
///
/// Ownership: `name` is copied. On success `*out` is a new counter that the caller frees
/// with `dagnats_counter_free`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_counter(
    telemetry: *const dagnats_telemetry,
    name: *const c_char,
    out: *mut *mut dagnats_counter,
) -> dagnats_result {
    ffi_boundary!({
        let inner = live(telemetry)?;
        let name = str_arg(name, "name")?;
        let out = out_arg(out, "out")?;
        *out = to_boxed::<dagnats_counter>(inner.tel.metrics.counter(name));
        Ok(())
    })
}

/// Creates a gauge named `name`.
///
/// Ownership: `name` is copied. On success `*out` is a new gauge that the caller frees
/// with `dagnats_gauge_free`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_gauge(
    telemetry: *const dagnats_telemetry,
    name: *const c_char,
    out: *mut *mut dagnats_gauge,
) -> dagnats_result {
    ffi_boundary!({
        let inner = live(telemetry)?;
        let name = str_arg(name, "name")?;
        let out = out_arg(out, "out")?;
        *out = to_boxed::<dagnats_gauge>(inner.tel.metrics.gauge(name));
        Ok(())
    })
}

/// Creates a histogram named `name`.
///
/// Ownership: `name` is copied. On success `*out` is a new histogram that the caller
/// frees with `dagnats_histogram_free`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_histogram(
    telemetry: *const dagnats_telemetry,
    name: *const c_char,
    out: *mut *mut dagnats_histogram,
) -> dagnats_result {
    ffi_boundary!({
        let inner = live(telemetry)?;
        let name = str_arg(name, "name")?;
        let out = out_arg(out, "out")?;
        *out = to_boxed::<dagnats_histogram>(inner.tel.metrics.histogram(name));
        Ok(())
    })
}

/// Adds `value` to the counter, with tags (NULL when `tags_len` is 0). A negative or
/// non-finite increment is ignored (a counter only grows) and still returns
/// `DAGNATS_RESULT_OK`, as in every language of this library.
///
/// Ownership: tags are copied. Thread-safety: any thread, concurrently.
#[no_mangle]
pub unsafe extern "C" fn dagnats_counter_add(
    counter: *const dagnats_counter,
    value: f64,
    tags: *const dagnats_tag,
    tags_len: usize,
) -> dagnats_result {
    ffi_boundary!({
        let counter = try_ref(counter, "counter")?;
        with_tags(tags, tags_len, |t| counter.add(value, t))
    })
}

/// Sets the gauge to `value`, with tags (NULL when `tags_len` is 0). A non-finite value
/// is ignored (JSON cannot carry it).
///
/// Ownership: tags are copied. Thread-safety: any thread, concurrently.
#[no_mangle]
pub unsafe extern "C" fn dagnats_gauge_set(
    gauge: *const dagnats_gauge,
    value: f64,
    tags: *const dagnats_tag,
    tags_len: usize,
) -> dagnats_result {
    ffi_boundary!({
        let gauge = try_ref(gauge, "gauge")?;
        with_tags(tags, tags_len, |t| gauge.set(value, t))
    })
}

/// Records one observation, with tags (NULL when `tags_len` is 0). A non-finite value is
/// ignored.
///
/// Ownership: tags are copied. Thread-safety: any thread, concurrently.
#[no_mangle]
pub unsafe extern "C" fn dagnats_histogram_record(
    histogram: *const dagnats_histogram,
    value: f64,
    tags: *const dagnats_tag,
    tags_len: usize,
) -> dagnats_result {
    ffi_boundary!({
        let histogram = try_ref(histogram, "histogram")?;
        with_tags(tags, tags_len, |t| histogram.record(value, t))
    })
}

/// Frees a counter. NULL does nothing.
///
/// Ownership: takes `counter`, which must not be used afterwards.
/// Thread-safety: no other thread may be using the counter.
#[no_mangle]
pub unsafe extern "C" fn dagnats_counter_free(counter: *mut dagnats_counter) {
    let _: dagnats_result = ffi_boundary!({
        free_boxed(counter);
        Ok(())
    });
}

/// Frees a gauge. NULL does nothing.
///
/// Ownership: takes `gauge`, which must not be used afterwards.
/// Thread-safety: no other thread may be using the gauge.
#[no_mangle]
pub unsafe extern "C" fn dagnats_gauge_free(gauge: *mut dagnats_gauge) {
    let _: dagnats_result = ffi_boundary!({
        free_boxed(gauge);
        Ok(())
    });
}

/// Frees a histogram. NULL does nothing.
///
/// Ownership: takes `histogram`, which must not be used afterwards.
/// Thread-safety: no other thread may be using the histogram.
#[no_mangle]
pub unsafe extern "C" fn dagnats_histogram_free(histogram: *mut dagnats_histogram) {
    let _: dagnats_result = ffi_boundary!({
        free_boxed(histogram);
        Ok(())
    });
}
