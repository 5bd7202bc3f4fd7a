//! The `SpanKind` and `StatusCode` enums, numbered as OpenTelemetry JS numbers them.

use dagnats_observe as core;
use napi::sys;
use napi_derive::napi;

use crate::convert;
use crate::error::type_error;

/// What kind of work a span stands for (OpenTelemetry's span kinds).
#[napi]
pub enum SpanKind {
    /// Work inside one process (the default).
    Internal = 0,
    /// Handling a request or a task received from elsewhere.
    Server = 1,
    /// A call out to another service.
    Client = 2,
    /// Sending a message for later processing.
    Producer = 3,
    /// Processing a message sent by a producer.
    Consumer = 4,
}

/// A span's status code (OpenTelemetry's numbering).
#[napi]
pub enum StatusCode {
    /// No status was set (the default).
    Unset = 0,
    /// The work succeeded.
    Ok = 1,
    /// The work failed.
    Error = 2,
}

/// Reads a `SpanKind` argument: `undefined`/`null` is internal; a number must be one of
/// the enum's values, and a wire name (`"server"`) is accepted too.
pub fn span_kind(env: sys::napi_env, value: sys::napi_value) -> napi::Result<core::SpanKind> {
    let mut n = 0.0;
    if unsafe { sys::napi_get_value_double(env, value, &mut n) } == sys::Status::napi_ok {
        let kind = if n.fract() == 0.0 { core::SpanKind::from_number(n as i64) } else { None };
        return kind.ok_or_else(|| type_error(env, format!("kind must be a SpanKind (0 to 4), got {n}")));
    }
    if convert::is_nullish(env, value)? {
        return Ok(core::SpanKind::Internal);
    }
    let name = convert::string(env, value, &|| "kind".to_owned())?;
    core::SpanKind::parse(&name).ok_or_else(|| type_error(env, format!("kind must be a SpanKind, got {name:?}")))
}

/// Reads a `StatusCode` argument (a number 0 to 2).
pub fn status_code(env: sys::napi_env, value: sys::napi_value) -> napi::Result<core::StatusCode> {
    let n = convert::number(env, value, &|| "code".to_owned())?;
    let code = if n.fract() == 0.0 { core::StatusCode::from_number(n as i64) } else { None };
    code.ok_or_else(|| type_error(env, format!("code must be a StatusCode (0 to 2), got {n}")))
}
