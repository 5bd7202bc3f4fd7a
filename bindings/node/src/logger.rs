//! Log records. The package's `Logger` calls [`log_emit`] with the current span's
//! identity in the id buffer.

use dagnats_observe as core;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;

use crate::convert::{self, raw};
use crate::error::type_error;
use crate::handles;

/// Writes one log record for the telemetry `telemetry`. `level` is `trace`, `debug`,
/// `info`, `warn` or `error` (`warning`, `fatal`, `critical` are aliases); `fields` a
/// plain object of attribute values; `error` anything thrown (its message is kept).
/// With `hasSpan`, the record is linked to the span identity in the id buffer. Never
/// blocks on the network.
#[napi(
    catch_unwind,
    ts_args_type = "telemetry: number, level: string, message: string, fields?: Attributes | null, error?: unknown, hasSpan?: boolean"
)]
pub fn log_emit(
    telemetry: u32,
    level: Unknown,
    message: Unknown,
    fields: Option<Unknown>,
    error: Option<Unknown>,
    has_span: Option<bool>,
) -> napi::Result<()> {
    let (env, level) = raw(&level);
    // The span's identity first: converting fields may run JavaScript (getters).
    let span = if has_span == Some(true) { handles::read_ids(None, None) } else { None };
    let level_name = convert::string(env, level, &|| "level".to_owned())?;
    let level = core::Level::parse(&level_name).ok_or_else(|| {
        type_error(env, format!("level must be trace, debug, info, warn or error, got {level_name:?}"))
    })?;
    let message = convert::string(env, raw(&message).1, &|| "message".to_owned())?;
    let fields = match fields {
        Some(f) => convert::attributes(env, raw(&f).1, "fields")?,
        None => Vec::new(),
    };
    let error = match error {
        Some(e) if !convert::is_nullish(env, raw(&e).1)? => Some(convert::error_description(env, raw(&e).1).0),
        _ => None,
    };
    handles::with_logger(telemetry, |logger| {
        let mut entry = logger.entry(level, message).span(span.as_ref()).fields(fields);
        if let Some(error) = error {
            entry = entry.error(error);
        }
        entry.emit();
    })
    .ok_or_else(|| type_error(env, "telemetry handle is not valid"))
}
