//! Trace context on messages: the native halves of the package's `extract` and `inject`,
//! as bare Node-API callbacks ([`crate::raw`]). The JS side collects `(name, value)`
//! pairs from whatever carrier it was given (plain object, `Map`, nats.js `MsgHdrs`);
//! matching names, parsing and formatting are the core's.
//!
//! JavaScript signatures (`SpanFunctions` in native-header.d.ts):
//!
//! - `extractSpanContext(eventTraceParent, eventTraceState, ...headerPairs) -> string | null`
//!
//! Writing needs no function of its own: the package's `inject` writes the `traceparent`
//! that `traceparentOfIds` formats, and `tracestate` when the span's trace state (as the
//! core normalized it) is not empty, as the core's `header_pairs` does.

use dagnats_observe::propagation;
use napi::sys;
use serde_json::{Map, Value};

use crate::convert;
use crate::error::type_error;
use crate::handles;
use crate::raw::{boundary, Arguments, Callback};

/// The callbacks of this module, by JavaScript name.
pub const CALLBACKS: &[(&str, Callback)] = &[("extractSpanContext", extract_span_context)];

/// Reads a remote span context from header pairs, falling back to a DagNats event's
/// fields. The header pairs are the trailing arguments, `name, value, name, value, ...`
/// in message order; names match case-insensitively and may repeat. A valid header `traceparent` wins;
/// otherwise `eventTraceParent` (with `eventTraceState`) is used.
///
/// On success the identity goes to the id buffer and the normalized trace state is
/// returned (`""` when there is none); `null` when neither source holds a valid context.
unsafe extern "C" fn extract_span_context(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let (event_trace_parent, event_trace_state) = (args.get(0, env), args.get(1, env));
        let pairs = args.rest(2);
        if pairs.len() % 2 == 1 {
            return Err(type_error(env, "header pairs must be name, value pairs"));
        }
        let mut flat: Vec<(String, String)> = Vec::with_capacity(pairs.len() / 2);
        for pair in pairs.chunks_exact(2) {
            let name = convert::string(env, pair[0], &|| "header name".to_owned())?;
            let value = convert::string(env, pair[1], &|| format!("header {name:?}"))?;
            flat.push((name, value));
        }
        let mut event = Map::new();
        if let Some(tp) = convert::optional_string(env, event_trace_parent, &|| "eventTraceParent".to_owned())? {
            event.insert(propagation::EVENT_TRACE_PARENT.to_owned(), Value::String(tp));
        }
        if let Some(ts) = convert::optional_string(env, event_trace_state, &|| "eventTraceState".to_owned())? {
            event.insert(propagation::EVENT_TRACE_STATE.to_owned(), Value::String(ts));
        }
        let event = (!event.is_empty()).then_some(&event);
        match propagation::extract(flat.iter().map(|(n, v)| (n.as_str(), v.as_str())), event) {
            Some(context) => {
                handles::write_ids(&context);
                convert::js_string(env, context.trace_state.as_str())
            }
            None => convert::js_null(env),
        }
    })
}
