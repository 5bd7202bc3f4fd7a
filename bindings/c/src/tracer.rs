//! `dagnats_tracer`: starts spans.

use std::ffi::c_char;

use dagnats_observe::{SpanKind, SpanOptions, Tracer};

use crate::attribute::{convert_all, dagnats_attribute};
use crate::handle::{free_boxed, out_arg, to_boxed, try_ref, Castable};
use crate::intern::interned_arg;
use crate::panic::ffi_boundary;
use crate::propagation::dagnats_span_context;
use crate::result::{dagnats_result, Failure, FfiResult};
use crate::span::dagnats_span;
use crate::telemetry::{dagnats_telemetry, live};

/// Starts spans for one service.
///
/// Created by `dagnats_telemetry_tracer`, freed by `dagnats_tracer_free`. It stays valid
/// after its telemetry is freed (spans ended then are dropped and counted).
///
/// Thread-safety: a tracer may be shared between threads; `dagnats_tracer_start_span`
/// may run on many threads at once with the same tracer.
pub struct dagnats_tracer {
    _private: [u8; 0],
}

impl Castable for dagnats_tracer {
    type RustType = Tracer;
}

/// What work a span stands for: one of the `DAGNATS_SPAN_KIND_*` constants.
pub type dagnats_span_kind = u32;
/// Work inside one process (the default).
pub const DAGNATS_SPAN_KIND_INTERNAL: dagnats_span_kind = 0;
/// Handling a request or a task received from elsewhere.
pub const DAGNATS_SPAN_KIND_SERVER: dagnats_span_kind = 1;
/// A call out to another service.
pub const DAGNATS_SPAN_KIND_CLIENT: dagnats_span_kind = 2;
/// Sending a message for later processing.
pub const DAGNATS_SPAN_KIND_PRODUCER: dagnats_span_kind = 3;
/// Processing a message sent by a producer.
pub const DAGNATS_SPAN_KIND_CONSUMER: dagnats_span_kind = 4;

fn span_kind(kind: dagnats_span_kind) -> FfiResult<SpanKind> {
    // The constants above are the core's numbers (checked by a test below).
    SpanKind::from_number(kind.into()).ok_or_else(|| Failure::invalid(format!("kind: unknown span kind {kind}")))
}

/// Creates a tracer for the telemetry's service.
///
/// Ownership: on success `*out` is a new tracer that the caller frees with
/// `dagnats_tracer_free`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_tracer(
    telemetry: *const dagnats_telemetry,
    out: *mut *mut dagnats_tracer,
) -> dagnats_result {
    ffi_boundary!({
        let inner = live(telemetry)?;
        let out = out_arg(out, "out")?;
        *out = to_boxed::<dagnats_tracer>(inner.tel.tracer.clone());
        Ok(())
    })
}

/// Frees a tracer. NULL does nothing. Spans it started stay valid.
///
/// Ownership: takes `tracer`, which must not be used afterwards (not guarded: the tracer
/// is on the hot path and carries no live-handle check).
///
/// Thread-safety: no other thread may be using the tracer.
#[no_mangle]
pub unsafe extern "C" fn dagnats_tracer_free(tracer: *mut dagnats_tracer) {
    let _: dagnats_result = ffi_boundary!({
        free_boxed(tracer);
        Ok(())
    });
}

/// Starts a span.
///
/// - `name`: the span name, NUL-terminated UTF-8 (for example `"worker.executeTask"`).
/// - `kind`: a `DAGNATS_SPAN_KIND_*` constant.
/// - `parent`: the parent's context, or NULL for a new trace. Use a remote parent from
///   `dagnats_extract_headers` (the child keeps its trace id, flags and tracestate and
///   records `parent_id` and `parent_is_remote`), or a local span's context from
///   `dagnats_span_context_of`.
/// - `attributes`, `attributes_len`: initial attributes (NULL when `attributes_len` is 0).
///
/// Nothing is started unless every argument is valid.
///
/// Ownership: every input is copied or only read. On success `*out` is a new span owned
/// by the caller, released only by `dagnats_span_end` (which hands the finished record
/// to the telemetry and frees the span).
///
/// Thread-safety: any thread, with the same tracer concurrently.
#[no_mangle]
pub unsafe extern "C" fn dagnats_tracer_start_span(
    tracer: *const dagnats_tracer,
    name: *const c_char,
    kind: dagnats_span_kind,
    parent: *const dagnats_span_context,
    attributes: *const dagnats_attribute,
    attributes_len: usize,
    out: *mut *mut dagnats_span,
) -> dagnats_result {
    ffi_boundary!({
        let tracer = try_ref(tracer, "tracer")?;
        let name = interned_arg(name, "name")?;
        let kind = span_kind(kind)?;
        let parent = if parent.is_null() { None } else { Some(try_ref(parent, "parent")?) };
        let attributes = convert_all(attributes, attributes_len, "attributes")?;
        let out = out_arg(out, "out")?;
        let mut options = SpanOptions::new().kind(kind);
        if !attributes.is_empty() {
            options = options.attributes(attributes);
        }
        *out = to_boxed::<dagnats_span>(tracer.start_span(name, parent, options));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{status_code, DAGNATS_STATUS_ERROR, DAGNATS_STATUS_OK, DAGNATS_STATUS_UNSET};
    use dagnats_observe::StatusCode;

    #[test]
    fn the_header_constants_are_the_cores_numbers() {
        let kinds = [
            DAGNATS_SPAN_KIND_INTERNAL,
            DAGNATS_SPAN_KIND_SERVER,
            DAGNATS_SPAN_KIND_CLIENT,
            DAGNATS_SPAN_KIND_PRODUCER,
            DAGNATS_SPAN_KIND_CONSUMER,
        ];
        assert_eq!(kinds.map(|k| span_kind(k).ok()), SpanKind::ALL.map(Some));
        assert!(span_kind(5).is_err());
        assert!(status_code(3).is_err());
        let codes = [DAGNATS_STATUS_UNSET, DAGNATS_STATUS_OK, DAGNATS_STATUS_ERROR];
        assert_eq!(codes.map(|c| status_code(c).ok()), StatusCode::ALL.map(Some));
    }
}
