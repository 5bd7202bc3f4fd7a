//! Span identities in text: the id buffer ([`crate::handles`]) holds a span's ids and
//! flags as numbers; these functions give their W3C text forms.

use napi::bindgen_prelude::Unknown;
use napi_derive::napi;

use crate::convert::raw;
use crate::error::type_error;
use crate::handles;

/// Binds this thread's id buffer (a `Uint32Array(8)`) and attribute buffer (a
/// `Float64Array(192)`); the package does this once.
#[napi(catch_unwind, ts_args_type = "ids: Uint32Array, attributes: Float64Array")]
pub fn bind_buffers(ids: Unknown, attributes: Unknown) -> napi::Result<()> {
    let (env, ids) = raw(&ids);
    handles::bind_buffers(env, ids, raw(&attributes).1).map_err(|m| type_error(env, m))
}

fn ids(env: napi::Env) -> napi::Result<dagnats_observe::propagation::SpanContext> {
    handles::read_ids(None).ok_or_else(|| type_error(env.raw(), "the id buffer holds no valid span identity"))
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

/// Interns a name (attribute key, span or event name) for this thread and returns its
/// number, which the span functions accept in place of the text; `-1` when the name is
/// too long (over 256 bytes) or the thread's table (4096 names) is full.
#[napi(catch_unwind)]
pub fn intern_name(name: String) -> i32 {
    handles::intern(&name).map_or(-1, |id| id as i32)
}
