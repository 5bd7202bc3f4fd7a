//! `dagnats_span`: attributes, status, errors, events, ids, and end (which frees it).

use std::ffi::c_char;

use dagnats_observe::propagation::traceparent_bytes;
use dagnats_observe::{Attribute, Span, StatusCode};

use crate::attribute::{convert_all, dagnats_attribute};
use crate::cstr::{opt_str_arg, str_arg, write_out};
use crate::handle::{out_arg, take_boxed, try_mut, try_ref, Castable};
use crate::intern::interned_arg;
use crate::panic::ffi_boundary;
use crate::propagation::dagnats_span_context;
use crate::result::{dagnats_result, Failure, FfiResult};

/// A span being recorded: one timed unit of work.
///
/// Created by `dagnats_tracer_start_span`; `dagnats_span_end` ends it, hands the finished
/// record to the telemetry, frees it and sets the caller's pointer to NULL. There is no
/// other free: a span that is never ended leaks and is never delivered.
///
/// Thread-safety: a span may move between threads but must not be used by two threads
/// at once.
pub struct dagnats_span {
    _private: [u8; 0],
}

impl Castable for dagnats_span {
    type RustType = Span;
}

/// A span's status: one of the `DAGNATS_STATUS_*` constants.
pub type dagnats_status_code = u32;
/// No status set (the default). Setting it never overrides another status.
pub const DAGNATS_STATUS_UNSET: dagnats_status_code = 0;
/// The work succeeded. Final: later statuses are ignored.
pub const DAGNATS_STATUS_OK: dagnats_status_code = 1;
/// The work failed.
pub const DAGNATS_STATUS_ERROR: dagnats_status_code = 2;

pub(crate) fn status_code(code: dagnats_status_code) -> FfiResult<StatusCode> {
    // The constants above are the core's numbers (checked by a test in tracer.rs).
    StatusCode::from_number(code.into()).ok_or_else(|| Failure::invalid(format!("code: unknown status code {code}")))
}

/// Sets the status with a description (NULL for none), following OpenTelemetry's rules:
/// `DAGNATS_STATUS_UNSET` changes nothing and `DAGNATS_STATUS_OK` is final. The
/// description is written as the record's `status_message`.
///
/// Ownership: `description` is copied. Thread-safety: see `dagnats_span`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_set_status(
    span: *mut dagnats_span,
    code: dagnats_status_code,
    description: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let span = try_mut(span, "span")?;
        let code = status_code(code)?;
        let description = opt_str_arg(description, "description")?.unwrap_or("");
        span.set_status(code, description);
        Ok(())
    })
}

/// Sets a string attribute, replacing an earlier value of the same key.
///
/// Ownership: `key` and `value` are copied. Thread-safety: see `dagnats_span`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_set_attribute_string(
    span: *mut dagnats_span,
    key: *const c_char,
    value: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let span = try_mut(span, "span")?;
        let key = interned_arg(key, "key")?;
        let value = str_arg(value, "value")?;
        span.set_attribute(Attribute::string(key, value.to_owned()));
        Ok(())
    })
}

/// Sets a signed 64-bit integer attribute (it stays an integer on the wire).
///
/// Ownership: `key` is copied. Thread-safety: see `dagnats_span`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_set_attribute_int64(
    span: *mut dagnats_span,
    key: *const c_char,
    value: i64,
) -> dagnats_result {
    ffi_boundary!({
        let span = try_mut(span, "span")?;
        let key = interned_arg(key, "key")?;
        span.set_attribute(Attribute::int(key, value));
        Ok(())
    })
}

/// Sets a double attribute (NaN and infinities are written as the strings `"NaN"`,
/// `"+Inf"`, `"-Inf"`).
///
/// Ownership: `key` is copied. Thread-safety: see `dagnats_span`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_set_attribute_double(
    span: *mut dagnats_span,
    key: *const c_char,
    value: f64,
) -> dagnats_result {
    ffi_boundary!({
        let span = try_mut(span, "span")?;
        let key = interned_arg(key, "key")?;
        span.set_attribute(Attribute::float(key, value));
        Ok(())
    })
}

/// Sets a bool attribute.
///
/// Ownership: `key` is copied. Thread-safety: see `dagnats_span`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_set_attribute_bool(
    span: *mut dagnats_span,
    key: *const c_char,
    value: bool,
) -> dagnats_result {
    ffi_boundary!({
        let span = try_mut(span, "span")?;
        let key = interned_arg(key, "key")?;
        span.set_attribute(Attribute::bool(key, value));
        Ok(())
    })
}

/// Sets several attributes at once (NULL when `attributes_len` is 0). Nothing is set
/// unless every attribute is valid.
///
/// Ownership: every string is copied. Thread-safety: see `dagnats_span`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_set_attributes(
    span: *mut dagnats_span,
    attributes: *const dagnats_attribute,
    attributes_len: usize,
) -> dagnats_result {
    ffi_boundary!({
        let span = try_mut(span, "span")?;
        let attributes = convert_all(attributes, attributes_len, "attributes")?;
        span.set_attributes(attributes);
        Ok(())
    })
}

/// Records an error: sets the error status, writes `message` as the record's `error`
/// (and as `status_message` when none was set), and adds an `exception` event with
/// `exception.message` and, when `type_name` is not NULL, `exception.type`.
///
/// Ownership: both strings are copied. Thread-safety: see `dagnats_span`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_record_error(
    span: *mut dagnats_span,
    message: *const c_char,
    type_name: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let span = try_mut(span, "span")?;
        let message = str_arg(message, "message")?;
        let type_name = opt_str_arg(type_name, "type_name")?;
        span.record_exception(message.to_owned(), type_name.map(str::to_owned));
        Ok(())
    })
}

/// Adds a timestamped event with attributes (NULL when `attributes_len` is 0).
///
/// Ownership: every string is copied. Thread-safety: see `dagnats_span`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_add_event(
    span: *mut dagnats_span,
    name: *const c_char,
    attributes: *const dagnats_attribute,
    attributes_len: usize,
) -> dagnats_result {
    ffi_boundary!({
        let span = try_mut(span, "span")?;
        let name = interned_arg(name, "name")?;
        let attributes = convert_all(attributes, attributes_len, "attributes")?;
        span.add_event(name, attributes);
        Ok(())
    })
}

/// Ends the span and FREES it: the finished record goes to the telemetry (never waiting
/// for the network) and `*span` is set to NULL, so a second `dagnats_span_end(&span)` on
/// the same variable returns `DAGNATS_RESULT_NULL_ARGUMENT` instead of freeing twice.
/// Other copies of the pointer are dangling afterwards, as is any context obtained from
/// `dagnats_span_context_of`.
///
/// Ownership: takes the span. Thread-safety: see `dagnats_span`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_end(span: *mut *mut dagnats_span) -> dagnats_result {
    ffi_boundary!({
        let slot = out_arg(span, "span")?;
        if slot.is_null() {
            return Err(crate::cstr::null("*span (already ended?)"));
        }
        let mut span = take_boxed(std::mem::replace(slot, std::ptr::null_mut()));
        span.end();
        Ok(())
    })
}

/// The span's context (ids, flags, tracestate), to parent a local child span or to
/// inject into an outgoing message. NULL when `span` is NULL.
///
/// Ownership: BORROWED from the span: valid until `dagnats_span_end`; never free it (use
/// `dagnats_span_context_clone` for a copy that outlives the span). Thread-safety: may be
/// read from any thread while the span lives.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_context_of(span: *const dagnats_span) -> *const dagnats_span_context {
    ffi_boundary!({
        let span = try_ref(span, "span")?;
        Ok((span.span_context() as *const dagnats_observe::SpanContext).cast::<dagnats_span_context>())
    })
}

/// Copies the span's trace id (32 lowercase hex characters and a NUL, so 33 bytes) into
/// `buf`. `needed` (may be NULL) receives the size needed including the NUL;
/// `DAGNATS_RESULT_BUFFER_TOO_SMALL` when `len` is less, and `buf` is untouched.
///
/// Ownership: the caller owns `buf`. Thread-safety: see `dagnats_span`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_trace_id(
    span: *const dagnats_span,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> dagnats_result {
    ffi_boundary!({
        let span = try_ref(span, "span")?;
        write_out(&span.span_context().trace_id.to_hex_bytes(), buf, len, needed)
    })
}

/// Copies the span's id (16 lowercase hex characters and a NUL, so 17 bytes) into `buf`;
/// sizes as for `dagnats_span_trace_id`.
///
/// Ownership: the caller owns `buf`. Thread-safety: see `dagnats_span`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_span_id(
    span: *const dagnats_span,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> dagnats_result {
    ffi_boundary!({
        let span = try_ref(span, "span")?;
        write_out(&span.span_context().span_id.to_hex_bytes(), buf, len, needed)
    })
}

/// Copies the span's `traceparent` header value for the next hop
/// (`00-{trace_id}-{span_id}-{flags}`: 55 characters and a NUL, so 56 bytes) into `buf`;
/// sizes as for `dagnats_span_trace_id`.
///
/// Ownership: the caller owns `buf`. Thread-safety: see `dagnats_span`.
#[no_mangle]
pub unsafe extern "C" fn dagnats_span_traceparent(
    span: *const dagnats_span,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> dagnats_result {
    ffi_boundary!({
        let sc = try_ref(span, "span")?.span_context();
        write_out(&traceparent_bytes(sc.trace_id, sc.span_id, sc.trace_flags), buf, len, needed)
    })
}
