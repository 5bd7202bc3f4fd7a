//! `dagnats_span_context` and W3C Trace Context on message headers: extract a remote
//! parent from headers (an array, or the caller's headers through a callback) and the
//! DagNats event fields; inject `traceparent`/`tracestate` into headers and events.
//!
//! The rules are the core's, for every language alike: reading goes through
//! `propagation::extract_carrier` (the header pairs as they come, then the event's
//! values), writing through `propagation::CarrierWrite` (which names it replaces, which
//! headers and event fields it writes). This file only turns C's strings and callbacks
//! into those pairs.
//!
//! Carrier content comes from the wire, so it never fails a call: header names and
//! values that are not UTF-8 (or not valid trace context) simply carry no parent, exactly
//! as a malformed `traceparent` gives none, and an event body that is not a JSON object
//! has no event fields.

use std::ffi::{c_char, c_int, c_void, CStr};

use dagnats_observe::propagation::{
    self, extract_carrier, traceparent_bytes, CarrierValue, CarrierWrite, SpanContext, TraceFlags, TraceState, BAGGAGE,
    EVENT_TRACE_PARENT, EVENT_TRACE_STATE, TRACEPARENT, TRACESTATE,
};
use dagnats_observe::{SpanId, TraceId};
use serde_json::{Map, Value};

use crate::cstr::{null, opt_str_arg, str_arg, write_out};
use crate::handle::{free_boxed, out_arg, to_boxed, try_ref, Castable};
use crate::panic::ffi_boundary;
use crate::result::dagnats_result::{self, *};
use crate::result::{Failure, FfiResult};

/// The identity of a span as it travels: trace id, span id, trace flags, tracestate, and
/// whether it came from another process.
///
/// Owned contexts come from `dagnats_extract_headers`, `dagnats_extract_with`,
/// `dagnats_span_context_from_ids` and `dagnats_span_context_clone`, and are freed with
/// `dagnats_span_context_free`. `dagnats_span_context_of` lends a span's own context
/// instead (never free that one).
///
/// Thread-safety: immutable; may be read from any number of threads at once.
pub struct dagnats_span_context {
    _private: [u8; 0],
}

impl Castable for dagnats_span_context {
    type RustType = SpanContext;
}

/// One message header field: a name and a value, both NUL-terminated.
///
/// As input (`dagnats_extract_headers`) the caller owns the strings. As output
/// (`dagnats_inject_headers`) `name` is a static string and `value` points into the
/// caller's buffer.
#[repr(C)]
pub struct dagnats_header {
    /// Field name; matched ASCII case-insensitively.
    pub name: *const c_char,
    /// Field value.
    pub value: *const c_char,
}

/// Frees a context. NULL does nothing.
///
/// Ownership: takes `context`, which must be owned (not from `dagnats_span_context_of`)
/// and must not be used afterwards.
///
/// Thread-safety: no other thread may be using the context.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_context_free(context: *mut dagnats_span_context) {
    let _: dagnats_result = ffi_boundary!({
        free_boxed(context);
        Ok(())
    });
}

/// Copies a context, for example to keep a span's context after the span ends.
///
/// Ownership: on success `*out` is a new context that the caller frees with
/// `dagnats_span_context_free`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_context_clone(
    context: *const dagnats_span_context,
    out: *mut *mut dagnats_span_context,
) -> dagnats_result {
    ffi_boundary!({
        let sc = try_ref(context, "context")?;
        let out = out_arg(out, "out")?;
        *out = to_boxed::<dagnats_span_context>(sc.clone());
        Ok(())
    })
}

/// Builds a remote context from its parts, for ids received by other means than
/// headers: `trace_id` (32 lowercase hex, not all zero), `span_id` (16 lowercase hex,
/// not all zero), `flags` (the 8 W3C trace-flag bits, kept as given) and `tracestate`
/// (NULL or empty for none; must be a valid list). Invalid parts give
/// `DAGNATS_RESULT_INVALID_ARGUMENT`.
///
/// Ownership: the strings are copied. On success `*out` is a new context (marked remote)
/// that the caller frees with `dagnats_span_context_free`.
///
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_context_from_ids(
    trace_id: *const c_char,
    span_id: *const c_char,
    flags: u8,
    tracestate: *const c_char,
    out: *mut *mut dagnats_span_context,
) -> dagnats_result {
    ffi_boundary!({
        let trace_id = str_arg(trace_id, "trace_id")?;
        let span_id = str_arg(span_id, "span_id")?;
        let tracestate = opt_str_arg(tracestate, "tracestate")?.unwrap_or("");
        let out = out_arg(out, "out")?;
        let trace_id = TraceId::from_hex(trace_id).map_err(|e| Failure::invalid(format!("trace_id: {e}")))?;
        let span_id = SpanId::from_hex(span_id).map_err(|e| Failure::invalid(format!("span_id: {e}")))?;
        let trace_state = TraceState::parse(tracestate).map_err(|e| Failure::invalid(format!("tracestate: {e:?}")))?;
        *out = to_boxed::<dagnats_span_context>(SpanContext {
            trace_id,
            span_id,
            trace_flags: TraceFlags(flags),
            trace_state,
            is_remote: true,
            baggage: Default::default(),
        });
        Ok(())
    })
}

/// Copies the trace id (32 lowercase hex characters and a NUL: 33 bytes) into `buf`.
/// `needed` (may be NULL) receives the size needed including the NUL;
/// `DAGNATS_RESULT_BUFFER_TOO_SMALL` when `len` is less, and `buf` is untouched.
///
/// Ownership: the caller owns `buf`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_context_trace_id(
    context: *const dagnats_span_context,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> dagnats_result {
    ffi_boundary!({ write_out(&try_ref(context, "context")?.trace_id.to_hex_bytes(), buf, len, needed,) })
}

/// Copies the span id (16 lowercase hex characters and a NUL: 17 bytes) into `buf`;
/// sizes as for `dagnats_span_context_trace_id`.
///
/// Ownership: the caller owns `buf`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_context_span_id(
    context: *const dagnats_span_context,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> dagnats_result {
    ffi_boundary!({ write_out(&try_ref(context, "context")?.span_id.to_hex_bytes(), buf, len, needed,) })
}

/// Copies the `traceparent` value (version `00`, all flag bits as held: 55 characters
/// and a NUL, so 56 bytes) into `buf`; sizes as for `dagnats_span_context_trace_id`.
///
/// Ownership: the caller owns `buf`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_context_traceparent(
    context: *const dagnats_span_context,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> dagnats_result {
    ffi_boundary!({
        let sc = try_ref(context, "context")?;
        write_out(&traceparent_bytes(sc.trace_id, sc.span_id, sc.trace_flags), buf, len, needed)
    })
}

/// Copies the normalized `tracestate` list (`""` when there is none) into `buf`; sizes
/// as for `dagnats_span_context_trace_id` (a tracestate holds at most 32 members of at
/// most 513 bytes, so 16,448 bytes always suffice).
///
/// Ownership: the caller owns `buf`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_context_tracestate(
    context: *const dagnats_span_context,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> dagnats_result {
    ffi_boundary!({ write_out(try_ref(context, "context")?.trace_state.as_str().as_bytes(), buf, len, needed,) })
}

/// Copies the normalized W3C `baggage` list (`""` when there is none) into `buf`; sizes
/// as for `dagnats_span_context_trace_id` (a baggage list holds at most 8192 bytes, so
/// 8193 bytes always suffice). It is the list read with the context (invalid members
/// dropped, no optional white space), which a child span carries on and
/// `dagnats_inject_headers` / `dagnats_inject_with` write as the `baggage` header.
///
/// Ownership: the caller owns `buf`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_context_baggage(
    context: *const dagnats_span_context,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> dagnats_result {
    ffi_boundary!({ write_out(try_ref(context, "context")?.baggage.as_str().as_bytes(), buf, len, needed,) })
}

/// The 8 trace-flag bits (bit 0x01: sampled). 0 when `context` is NULL.
///
/// Thread-safety: any thread. Ownership: `context` is only read.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_context_flags(context: *const dagnats_span_context) -> u8 {
    ffi_boundary!({ Ok(try_ref(context, "context")?.trace_flags.0) })
}

/// True when the context came from another process (extracted from a message), false
/// for a local span's context and when `context` is NULL.
///
/// Thread-safety: any thread. Ownership: `context` is only read.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_context_is_remote(context: *const dagnats_span_context) -> bool {
    ffi_boundary!({ Ok(try_ref(context, "context")?.is_remote) })
}

// ---------------------------------------------------------------------------------------
// Extract

/// Whether a header of this name carries trace context or baggage (`traceparent`,
/// `tracestate` or `baggage`, in any letter case): the names `dagnats_inject_headers`
/// and `dagnats_inject_with` replace. When a message is handed on with the headers it came with, skip these while
/// copying the incoming headers, then inject the current span's context: the outgoing
/// message then carries exactly one `traceparent` (a stale `TraceParent` copied beside a
/// fresh `traceparent` would be two values, which every reader rejects as ambiguous).
///
/// False for NULL and for a name that is not UTF-8. Ownership: `name` is only read.
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_header_is_trace_context(name: *const c_char) -> bool {
    ffi_boundary!({ Ok(!name.is_null() && is_trace_name(CStr::from_ptr(name).to_bytes())) })
}

/// A header name as the core's rule reads it; a name that is not UTF-8 is no trace name.
#[inline]
fn is_trace_name(name: &[u8]) -> bool {
    std::str::from_utf8(name).is_ok_and(CarrierWrite::replaces)
}

/// An event field as the carrier holds it (a string, or a value of another type).
fn event_value<'a>(event: &'a Map<String, Value>, field: &str) -> Option<CarrierValue<'a>> {
    event.get(field).map(|v| match v {
        Value::String(s) => CarrierValue::Text(s),
        _ => CarrierValue::Other,
    })
}

/// The event object of a message body, when it is one.
unsafe fn event_object(event: *const u8, event_len: usize) -> FfiResult<Option<Map<String, Value>>> {
    if event.is_null() {
        return if event_len == 0 { Ok(None) } else { Err(null("event")) };
    }
    let bytes = std::slice::from_raw_parts(event, event_len);
    Ok(match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    })
}

/// The core's reading of header pairs and the event, as a new context for C or NULL.
/// Names that are not UTF-8 are left out (they match no trace name); values go as bytes,
/// which the core reads as text when they are UTF-8 and as a malformed value otherwise.
fn extract_to_c<'a>(
    pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    event: Option<&Map<String, Value>>,
) -> *mut dagnats_span_context {
    let pairs = pairs
        .into_iter()
        .filter_map(|(name, value)| Some((std::str::from_utf8(name).ok()?, CarrierValue::Bytes(value))));
    let (parent, state) = match event {
        Some(e) => (event_value(e, EVENT_TRACE_PARENT), event_value(e, EVENT_TRACE_STATE)),
        None => (None, None),
    };
    match extract_carrier(pairs, parent, state) {
        Some(sc) => to_boxed::<dagnats_span_context>(sc),
        None => std::ptr::null_mut(),
    }
}

/// Reads the remote parent from header fields and, when the headers carry none, from
/// the DagNats event in the message body.
///
/// - `headers`, `headers_len`: the message's header fields in order (NULL when
///   `headers_len` is 0). Names match ASCII case-insensitively and may repeat; exactly one
///   valid `traceparent` is required; every `tracestate` value is joined in order.
/// - `event`, `event_len`: the message body holding the engine's event JSON with its
///   `trace_parent`/`trace_state` fields, used when the headers carry no valid
///   `traceparent`; NULL (with `event_len` 0) when there is none. Need not be
///   NUL-terminated. A body that is not a JSON object has no event fields.
///
/// On success `*out` is the remote parent, or NULL when the message carries no valid
/// trace context: pass `*out` as the `parent` of `dagnats_tracer_start_span` either way
/// (NULL starts a new trace). Malformed header content never fails the call; only NULL
/// arguments do (a NULL `name` or `value` inside `headers` included).
///
/// Ownership: the inputs are only read. A non-NULL `*out` is a new context that the
/// caller frees with `dagnats_span_context_free`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_extract_headers(
    headers: *const dagnats_header,
    headers_len: usize,
    event: *const u8,
    event_len: usize,
    out: *mut *mut dagnats_span_context,
) -> dagnats_result {
    ffi_boundary!({
        let out = out_arg(out, "out")?;
        let headers: &[dagnats_header] = match (headers.is_null(), headers_len) {
            (_, 0) => &[],
            (true, _) => return Err(null("headers")),
            (false, n) => std::slice::from_raw_parts(headers, n),
        };
        let mut pairs = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            if h.name.is_null() {
                return Err(Failure::new(DAGNATS_RESULT_NULL_ARGUMENT, format!("headers[{i}].name is NULL")));
            }
            if h.value.is_null() {
                return Err(Failure::new(DAGNATS_RESULT_NULL_ARGUMENT, format!("headers[{i}].value is NULL")));
            }
            pairs.push((CStr::from_ptr(h.name).to_bytes(), CStr::from_ptr(h.value).to_bytes()));
        }
        let event = event_object(event, event_len)?;
        *out = extract_to_c(pairs, event.as_ref());
        Ok(())
    })
}

/// Receives one header field from a `dagnats_header_foreach` callback. `name` and
/// `value` are NUL-terminated and need only live for the duration of the call; NULLs are
/// ignored.
pub type dagnats_header_visitor =
    Option<unsafe extern "C" fn(visit_state: *mut c_void, name: *const c_char, value: *const c_char)>;

/// The caller's header enumeration: calls `visit(visit_state, name, value)` once for
/// every field of `carrier`, in order, then returns 0 (non-zero aborts the extraction
/// with `DAGNATS_RESULT_CALLBACK_FAILED`).
pub type dagnats_header_foreach = Option<
    unsafe extern "C" fn(carrier: *mut c_void, visit: dagnats_header_visitor, visit_state: *mut c_void) -> c_int,
>;

/// Trace-context fields collected by [`visit_field`] (the others are not kept: the rule
/// never looks at them).
struct Collected(Vec<(Vec<u8>, Vec<u8>)>);

unsafe extern "C" fn visit_field(state: *mut c_void, name: *const c_char, value: *const c_char) {
    // Never unwinds into the caller's C frames.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(collected) = state.cast::<Collected>().as_mut() else {
            return;
        };
        if name.is_null() || value.is_null() {
            return;
        }
        let name = CStr::from_ptr(name).to_bytes();
        if is_trace_name(name) {
            collected.0.push((name.to_vec(), CStr::from_ptr(value).to_bytes().to_vec()));
        }
    }));
}

/// Like `dagnats_extract_headers`, with the headers enumerated by the caller's `foreach`
/// callback (for example over a libnats `natsMsg` with `natsMsgHeader_Keys` and
/// `natsMsgHeader_Values`). `foreach` is called once, on this thread, before this call
/// returns; `carrier` is passed to it untouched.
///
/// Ownership: as for `dagnats_extract_headers`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_extract_with(
    foreach: dagnats_header_foreach,
    carrier: *mut c_void,
    event: *const u8,
    event_len: usize,
    out: *mut *mut dagnats_span_context,
) -> dagnats_result {
    ffi_boundary!({
        let foreach = foreach.ok_or_else(|| null("foreach"))?;
        let out = out_arg(out, "out")?;
        let event = event_object(event, event_len)?;
        let mut collected = Collected(Vec::new());
        let rc = foreach(carrier, Some(visit_field), (&mut collected as *mut Collected).cast());
        if rc != 0 {
            return Err(Failure::new(DAGNATS_RESULT_CALLBACK_FAILED, format!("foreach returned {rc}")));
        }
        *out = extract_to_c(collected.0.iter().map(|(n, v)| (n.as_slice(), v.as_slice())), event.as_ref());
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// Inject

/// Sets one header field on the caller's carrier (replacing any field of that name);
/// returns 0 on success, non-zero to abort with `DAGNATS_RESULT_CALLBACK_FAILED`. `name`
/// and `value` are NUL-terminated and live only for the duration of the call.
pub type dagnats_header_setter =
    Option<unsafe extern "C" fn(carrier: *mut c_void, name: *const c_char, value: *const c_char) -> c_int>;

/// The header fields the core writes for `sc`, NUL-terminated for C: (static name,
/// value bytes with their NUL).
fn fields_for(sc: &SpanContext) -> Vec<(&'static CStr, Vec<u8>)> {
    let write = CarrierWrite::new(sc);
    write
        .headers()
        .map(|(name, value)| {
            let mut bytes = Vec::with_capacity(value.len() + 1);
            bytes.extend_from_slice(value.as_bytes());
            bytes.push(0);
            (c_name(name), bytes)
        })
        .collect()
}

/// The core's header name as a static C string (a header's `name` must outlive the call).
fn c_name(name: &'static str) -> &'static CStr {
    if name == TRACESTATE {
        c"tracestate"
    } else if name == BAGGAGE {
        c"baggage"
    } else {
        debug_assert_eq!(name, TRACEPARENT);
        c"traceparent"
    }
}

/// Writes the context into the caller's headers through `set`: `traceparent`, then
/// `tracestate` when the context has one and `baggage` when it carries baggage, in
/// exactly these lowercase names.
///
/// A carrier may already hold trace-context fields under other letter cases
/// (`TraceParent`), which `set` would not replace: when handing on a received message's
/// headers, leave out every name for which `dagnats_header_is_trace_context` is true
/// while copying them, then call this (libnats' `natsMsgHeader_Set` replaces exact names
/// only).
///
/// Ownership: `carrier` is passed to `set` untouched. Thread-safety: any thread; `set`
/// runs on the calling thread before this call returns.
#[no_mangle]
pub unsafe extern "C" fn dagnats_inject_with(
    context: *const dagnats_span_context,
    set: dagnats_header_setter,
    carrier: *mut c_void,
) -> dagnats_result {
    ffi_boundary!({
        let sc = try_ref(context, "context")?;
        let set = set.ok_or_else(|| null("set"))?;
        for (name, value) in fields_for(sc) {
            let rc = set(carrier, name.as_ptr(), value.as_ptr().cast());
            if rc != 0 {
                return Err(Failure::new(DAGNATS_RESULT_CALLBACK_FAILED, format!("set({name:?}) returned {rc}")));
            }
        }
        Ok(())
    })
}

/// Writes the header fields for the context into arrays the caller provides:
/// `headers[0]` is `traceparent`, then `tracestate` when the context has one, then
/// `baggage` when it carries baggage. `*headers_written` receives the number of fields
/// (1 to 3). Each `name` points to
/// a static string; each `value` points into `buf`, which receives the values one after
/// the other, each NUL-terminated.
///
/// To hand on a received message's other headers with these, copy them leaving out the
/// names for which `dagnats_header_is_trace_context` is true (see `dagnats_inject_with`).
///
/// `buf_needed` (may be NULL) receives the bytes `buf` needs. When `headers_len` is less
/// than the number of fields or `buf_len` less than the bytes needed, the result is
/// `DAGNATS_RESULT_BUFFER_TOO_SMALL` and nothing is written but `*headers_written` and
/// `*buf_needed`. Two entries and 1024 bytes suffice for a tracestate of up to 900
/// bytes and no baggage; three entries and 24,705 bytes for any (a tracestate of at most
/// 32 members of 513 bytes, a baggage list of at most 8192 bytes).
///
/// Ownership: the caller owns both arrays; the values stay valid as long as `buf`.
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_inject_headers(
    context: *const dagnats_span_context,
    headers: *mut dagnats_header,
    headers_len: usize,
    headers_written: *mut usize,
    buf: *mut c_char,
    buf_len: usize,
    buf_needed: *mut usize,
) -> dagnats_result {
    ffi_boundary!({
        let sc = try_ref(context, "context")?;
        let written = out_arg(headers_written, "headers_written")?;
        let fields = fields_for(sc);
        let need: usize = fields.iter().map(|(_, v)| v.len()).sum();
        *written = fields.len();
        if !buf_needed.is_null() {
            *buf_needed = need;
        }
        if headers.is_null() && headers_len != 0 {
            return Err(null("headers"));
        }
        if buf.is_null() && buf_len != 0 {
            return Err(null("buf"));
        }
        if headers_len < fields.len() || buf_len < need {
            return Err(Failure::new(
                DAGNATS_RESULT_BUFFER_TOO_SMALL,
                format!("need {} header entries and {need} bytes; got {headers_len} and {buf_len}", fields.len()),
            ));
        }
        let headers = std::slice::from_raw_parts_mut(headers, fields.len());
        let mut at = 0usize;
        for ((name, value), slot) in fields.iter().zip(headers) {
            let dest = buf.add(at);
            std::ptr::copy_nonoverlapping(value.as_ptr(), dest.cast::<u8>(), value.len());
            *slot = dagnats_header { name: name.as_ptr(), value: dest };
            at += value.len();
        }
        Ok(())
    })
}

/// Writes the context into a DagNats event (the dual write beside the headers): reads the
/// event JSON object `event`/`event_len` (NULL with 0 for a new empty object), sets
/// `trace_parent` and `trace_state` (removing `trace_state` when the context has none),
/// and copies the resulting JSON, NUL-terminated, into `buf`. Field order follows the
/// JSON library's (keys sorted). An event that is not a JSON object gives
/// `DAGNATS_RESULT_INVALID_ARGUMENT`. Sizes as for `dagnats_span_context_trace_id`.
///
/// Ownership: the caller owns every buffer. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_inject_event(
    context: *const dagnats_span_context,
    event: *const u8,
    event_len: usize,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> dagnats_result {
    ffi_boundary!({
        let sc = try_ref(context, "context")?;
        let mut map = if event.is_null() && event_len == 0 {
            Map::new()
        } else {
            if event.is_null() {
                return Err(null("event"));
            }
            match serde_json::from_slice::<Value>(std::slice::from_raw_parts(event, event_len)) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(Failure::invalid("event: not a JSON object")),
                Err(e) => return Err(Failure::invalid(format!("event: not JSON: {e}"))),
            }
        };
        // The core's dual write: CarrierWrite's event fields.
        propagation::inject_event(sc, &mut map);
        let json = serde_json::to_vec(&Value::Object(map))
            .map_err(|e| Failure::new(DAGNATS_RESULT_INTERNAL_ERROR, e.to_string()))?;
        write_out(&json, buf, len, needed)
    })
}
