//! Span identities in text: the id buffer (`span-buffers.js`) holds a span's ids and
//! flags as numbers; these functions give their W3C text forms.

use dagnats_observe::intern;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;

use crate::convert::raw;
use crate::error::type_error;
use crate::handles;

/// Binds this thread's id buffer (a `Uint32Array(8)`), attribute buffer (a
/// `Float64Array(192)`) and write plan (an `Int32Array(16)`); the package's
/// `span-buffers.js` does this once.
#[napi(catch_unwind, ts_args_type = "ids: Uint32Array, attributes: Float64Array, writePlan: Int32Array")]
pub fn bind_buffers(ids: Unknown, attributes: Unknown, write_plan: Unknown) -> napi::Result<()> {
    let (env, ids) = raw(&ids);
    handles::bind_buffers(env, ids, raw(&attributes).1, raw(&write_plan).1).map_err(|m| type_error(env, m))
}

fn ids(env: napi::Env) -> napi::Result<dagnats_observe::propagation::SpanContext> {
    handles::read_ids(None, None).ok_or_else(|| type_error(env.raw(), "the id buffer holds no valid span identity"))
}

/// The trace id in the id buffer: 32 lowercase hex characters.
#[napi(catch_unwind)]
pub fn trace_id_of_ids(env: napi::Env) -> napi::Result<String> {
    Ok(ids(env)?.trace_id.to_string())
}

/// The span id in the id buffer: 16 lowercase hex characters.
#[napi(catch_unwind)]
pub fn span_id_of_ids(env: napi::Env) -> napi::Result<String> {
    Ok(ids(env)?.span_id.to_string())
}

/// The `traceparent` value (version `00`) of the identity in the id buffer.
#[napi(catch_unwind)]
pub fn traceparent_of_ids(env: napi::Env) -> napi::Result<String> {
    Ok(ids(env)?.traceparent())
}

/// What `internName` returns for a name too long for the core's intern table.
#[napi]
pub const INTERN_NAME_TOO_LONG: i32 = -1;
/// What `internName` returns once the core's intern table is full: no new name will be
/// interned, so the package stops asking.
#[napi]
pub const INTERN_TABLE_FULL: i32 = -2;

/// The number of a name (attribute key, span or event name) in the core's intern table
/// (`dagnats_observe::intern`, one table for the process), which the span functions
/// accept in place of the text; `INTERN_NAME_TOO_LONG` or `INTERN_TABLE_FULL` when the
/// core does not intern it (the limits are the core's, counted in UTF-8 bytes). The
/// package caches the numbers it gets.
#[napi(catch_unwind)]
pub fn intern_name(name: String) -> i32 {
    match intern::intern(&name) {
        Some(id) => id as i32,
        None if name.len() > intern::MAX_LEN => INTERN_NAME_TOO_LONG,
        None => INTERN_TABLE_FULL,
    }
}
