//! `dagnats_logger`: structured log records on the same collector as spans.

use std::ffi::c_char;

use dagnats_observe::{Level, Logger};

use crate::attribute::{convert_all, dagnats_attribute};
use crate::cstr::{opt_str_arg, str_arg};
use crate::handle::{free_boxed, out_arg, to_boxed, try_ref, Castable};
use crate::panic::ffi_boundary;
use crate::propagation::dagnats_span_context;
use crate::result::{dagnats_result, Failure, FfiResult};
use crate::telemetry::{dagnats_telemetry, live};

/// Writes log records for one service (subject `telemetry.logs.{service}.{level}`).
///
/// Created by `dagnats_telemetry_logger`, freed by `dagnats_logger_free`.
///
/// Thread-safety: may be shared between threads and used by many at once.
pub struct dagnats_logger {
    _private: [u8; 0],
}

impl Castable for dagnats_logger {
    type RustType = Logger;
}

/// Log severity: one of the `DAGNATS_LEVEL_*` constants.
pub type dagnats_level = u32;
/// Very detailed tracing output.
pub const DAGNATS_LEVEL_TRACE: dagnats_level = 0;
/// Debugging output.
pub const DAGNATS_LEVEL_DEBUG: dagnats_level = 1;
/// Normal operation.
pub const DAGNATS_LEVEL_INFO: dagnats_level = 2;
/// Something unexpected that the program handled.
pub const DAGNATS_LEVEL_WARN: dagnats_level = 3;
/// A failure.
pub const DAGNATS_LEVEL_ERROR: dagnats_level = 4;

fn parse_level(level: dagnats_level) -> FfiResult<Level> {
    Ok(match level {
        DAGNATS_LEVEL_TRACE => Level::Trace,
        DAGNATS_LEVEL_DEBUG => Level::Debug,
        DAGNATS_LEVEL_INFO => Level::Info,
        DAGNATS_LEVEL_WARN => Level::Warn,
        DAGNATS_LEVEL_ERROR => Level::Error,
        other => return Err(Failure::invalid(format!("level: unknown level {other}"))),
    })
}

/// Creates a logger for the telemetry's service.
///
/// Ownership: on success `*out` is a new logger that the caller frees with
/// `dagnats_logger_free`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn dagnats_telemetry_logger(
    telemetry: *const dagnats_telemetry,
    out: *mut *mut dagnats_logger,
) -> dagnats_result {
    ffi_boundary!({
        let inner = live(telemetry)?;
        let out = out_arg(out, "out")?;
        *out = to_boxed::<dagnats_logger>(inner.tel.logger.clone());
        Ok(())
    })
}

/// Frees a logger. NULL does nothing.
///
/// Ownership: takes `logger`, which must not be used afterwards.
/// Thread-safety: no other thread may be using the logger.
#[no_mangle]
pub unsafe extern "C" fn dagnats_logger_free(logger: *mut dagnats_logger) {
    let _: dagnats_result = ffi_boundary!({
        free_boxed(logger);
        Ok(())
    });
}

/// Writes one log record. Never waits for the network.
///
/// - `level`: a `DAGNATS_LEVEL_*` constant; `message`: NUL-terminated UTF-8.
/// - `span`: the context of the span the record belongs to (its `trace_id` and `span_id`
///   are written into the record), or NULL.
/// - `fields`, `fields_len`: structured fields (NULL when `fields_len` is 0).
/// - `error`: an error message for the record's `error` field, or NULL.
///
/// Nothing is written unless every argument is valid.
///
/// Ownership: everything is copied. Thread-safety: any thread, concurrently.
#[no_mangle]
pub unsafe extern "C" fn dagnats_logger_log(
    logger: *const dagnats_logger,
    level: dagnats_level,
    message: *const c_char,
    span: *const dagnats_span_context,
    fields: *const dagnats_attribute,
    fields_len: usize,
    error: *const c_char,
) -> dagnats_result {
    ffi_boundary!({
        let logger = try_ref(logger, "logger")?;
        let level = parse_level(level)?;
        let message = str_arg(message, "message")?;
        let span = if span.is_null() { None } else { Some(try_ref(span, "span")?) };
        let fields = convert_all(fields, fields_len, "fields")?;
        let error = opt_str_arg(error, "error")?;
        let mut entry = logger.entry(level, message).span(span).fields(fields);
        if let Some(e) = error {
            entry = entry.error(e);
        }
        entry.emit();
        Ok(())
    })
}
