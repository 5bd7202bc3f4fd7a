//! Trace context on messages: the native halves of the package's `extract` and `inject`,
//! as bare Node-API callbacks ([`crate::raw`]). The package only walks the carrier it was
//! given (plain object, `Map`, nats.js `MsgHdrs`, a DagNats event object) and passes what
//! it finds as it finds it; which names count, which values are malformed, what is
//! replaced and what is written are the core's rules ([`propagation::extract_carrier`],
//! [`propagation::CarrierWrite`]).
//!
//! JavaScript signatures (`SpanFunctions` in native-header.d.ts):
//!
//! - `extractCarrier(event?, ...headerPairs) -> string | [string, string] | null`
//! - `carrierReplaced(...headerNames) -> Array | null`
//! - `carrierWrite(traceState, baggage, withEvent) -> string`, filling the write plan
//!
//! and `carrierNames()` (a `#[napi]` function), the names a write plan refers to.

use std::ptr;

use dagnats_observe::propagation::{self, CarrierValue, CarrierWrite};
use napi::sys;
use napi_derive::napi;

use crate::convert;
use crate::error::type_error;
use crate::handles;
use crate::raw::{args, boundary, Arguments, Callback};

/// The callbacks of this module, by JavaScript name.
pub const CALLBACKS: &[(&str, Callback)] =
    &[("extractCarrier", extract_carrier), ("carrierReplaced", carrier_replaced), ("carrierWrite", carrier_write)];

/// A carrier value as JavaScript holds it, owned for the length of a call.
enum Held {
    Text(String),
    Bytes(Vec<u8>),
    Other,
}

impl Held {
    fn as_carrier_value(&self) -> CarrierValue<'_> {
        match self {
            Held::Text(s) => CarrierValue::Text(s),
            Held::Bytes(b) => CarrierValue::Bytes(b),
            Held::Other => CarrierValue::Other,
        }
    }
}

/// One value as it is: a string is text, a `Uint8Array` (a `Buffer`) bytes, anything else
/// other.
fn held(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Held> {
    if let Some(text) = convert::try_string(env, value)? {
        return Ok(Held::Text(text));
    }
    let mut is_typed = false;
    unsafe { sys::napi_is_typedarray(env, value, &mut is_typed) };
    if is_typed {
        let (mut kind, mut length, mut data, mut buffer, mut offset) =
            (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
        let status = unsafe {
            sys::napi_get_typedarray_info(env, value, &mut kind, &mut length, &mut data, &mut buffer, &mut offset)
        };
        if status == sys::Status::napi_ok && kind == sys::TypedarrayType::uint8_array {
            let bytes = if length == 0 || data.is_null() {
                Vec::new()
            } else {
                // SAFETY: Node-API gave the data and length of a live Uint8Array.
                unsafe { std::slice::from_raw_parts(data as *const u8, length) }.to_vec()
            };
            return Ok(Held::Bytes(bytes));
        }
    }
    Ok(Held::Other)
}

/// Appends a header's value(s) as pairs: an array is the carrier's list of values under
/// one name, one pair each.
fn push_values(
    env: sys::napi_env,
    pairs: &mut Vec<(String, Held)>,
    name: String,
    value: sys::napi_value,
) -> napi::Result<()> {
    // A string, the usual value, is read first (one call); then a list, then the rest.
    if let Some(text) = convert::try_string(env, value)? {
        pairs.push((name, Held::Text(text)));
        return Ok(());
    }
    let mut is_array = false;
    unsafe { sys::napi_is_array(env, value, &mut is_array) };
    if !is_array {
        pairs.push((name, held(env, value)?));
        return Ok(());
    }
    let mut len = 0u32;
    unsafe { sys::napi_get_array_length(env, value, &mut len) };
    for i in 0..len {
        let mut item = ptr::null_mut();
        unsafe { sys::napi_get_element(env, value, i, &mut item) };
        pairs.push((name.clone(), held(env, item)?));
    }
    Ok(())
}

/// The value of an event's field `field` as the event holds it: `None` when there is no
/// event or the field is absent (`undefined` or `null`).
fn event_field(env: sys::napi_env, event: sys::napi_value, field: &str) -> napi::Result<Option<Held>> {
    if convert::is_nullish(env, event)? {
        return Ok(None);
    }
    let mut value = ptr::null_mut();
    unsafe { sys::napi_get_property(env, event, convert::js_string(env, field)?, &mut value) };
    if value.is_null() || convert::is_nullish(env, value)? {
        return Ok(None);
    }
    held(env, value).map(Some)
}

/// Reads a remote span context from a carrier's `name, value` pairs (the trailing
/// arguments, in the carrier's order, values as the carrier holds them) and a DagNats
/// event object's `trace_parent` / `trace_state` fields, by [`propagation::extract_carrier`].
/// A name that is not a string is no trace header and is skipped, as is every value
/// under a name that is not one of the trace headers.
///
/// On success the identity goes to the id buffer and the normalized trace state is
/// returned (`""` when there is none), or, when the message carries baggage, the array
/// `[traceState, baggage]` (normalized; so a message without baggage, the usual case,
/// costs no array); `null` when neither source holds a valid context.
unsafe extern "C" fn extract_carrier(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let rest = args.rest(1);
        if rest.len() % 2 == 1 {
            return Err(type_error(env, "header pairs must be name, value pairs"));
        }
        let mut pairs: Vec<(String, Held)> = Vec::new();
        for pair in rest.chunks_exact(2) {
            let Some(name) = convert::try_string(env, pair[0])? else { continue };
            // The core never looks at other names' values: neither is converted.
            // (`replaces` is the core's test for the trace-context and baggage names.)
            if CarrierWrite::replaces(&name) {
                push_values(env, &mut pairs, name, pair[1])?;
            }
        }
        let event = args.get(0, env);
        let event_trace_parent = event_field(env, event, propagation::EVENT_TRACE_PARENT)?;
        let event_trace_state = event_field(env, event, propagation::EVENT_TRACE_STATE)?;
        let context = propagation::extract_carrier(
            pairs.iter().map(|(name, value)| (name.as_str(), value.as_carrier_value())),
            event_trace_parent.as_ref().map(Held::as_carrier_value),
            event_trace_state.as_ref().map(Held::as_carrier_value),
        );
        match context {
            Some(context) => {
                handles::write_ids(&context);
                let state = convert::js_string(env, context.trace_state.as_str())?;
                if context.baggage.is_empty() {
                    return Ok(state);
                }
                let baggage = convert::js_string(env, context.baggage.as_str())?;
                let mut array = ptr::null_mut();
                unsafe { sys::napi_create_array_with_length(env, 2, &mut array) };
                unsafe { sys::napi_set_element(env, array, 0, state) };
                unsafe { sys::napi_set_element(env, array, 1, baggage) };
                Ok(array)
            }
            None => convert::js_null(env),
        }
    })
}

/// The names the write sets, in the order of their numbers in a write plan.
const WRITTEN_NAMES: [&str; 5] = [
    propagation::TRACEPARENT,
    propagation::TRACESTATE,
    propagation::EVENT_TRACE_PARENT,
    propagation::EVENT_TRACE_STATE,
    propagation::BAGGAGE,
];

/// The names a write plan sets, by number (the core's names: the package copies none).
#[napi]
pub fn carrier_names() -> Vec<String> {
    WRITTEN_NAMES.iter().map(|&name| name.to_owned()).collect()
}

/// Of a carrier's names (the arguments), those [`CarrierWrite::replaces`]: an array of
/// them to delete before the write, or `null` when there are none (the usual case). A
/// name that is not a string is never replaced.
unsafe extern "C" fn carrier_replaced(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let mut replaced = Vec::new();
        for &name in args.rest(0) {
            if convert::try_string(env, name)?.is_some_and(|name| CarrierWrite::replaces(&name)) {
                replaced.push(name);
            }
        }
        if replaced.is_empty() {
            return convert::js_null(env);
        }
        let mut array = ptr::null_mut();
        unsafe { sys::napi_create_array_with_length(env, replaced.len(), &mut array) };
        for (i, name) in replaced.into_iter().enumerate() {
            unsafe { sys::napi_set_element(env, array, i as u32, name) };
        }
        Ok(array)
    })
}

/// Value codes of a write plan.
const PLAN_DELETE: i32 = 0;
const PLAN_TRACEPARENT: i32 = 1;
const PLAN_TRACESTATE: i32 = 2;
const PLAN_BAGGAGE: i32 = 3;

/// The write of the span context in the id buffer (with `traceState` and `baggage`, each
/// `undefined` or `""` when there is none), by
/// [`CarrierWrite`]: returns the `traceparent` value and fills the write plan (layout in
/// `span-buffers.js`) with what to set, as numbers, because building a JavaScript array
/// here would cost more than the whole write. The carrier's stale names are
/// [`carrier_replaced`]'s.
unsafe extern "C" fn carrier_write(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let [trace_state, baggage, with_event] = args::<3>(env, info);
        let trace_state = convert::optional_string(env, trace_state, &|| "traceState".to_owned())?;
        let baggage = convert::optional_string(env, baggage, &|| "baggage".to_owned())?;
        let with_event = convert::truthy_bool(env, with_event)?;
        let context = handles::read_ids(trace_state.as_deref(), baggage.as_deref())
            .ok_or_else(|| type_error(env, "the id buffer holds no valid span identity"))?;
        let plan = handles::write_plan().ok_or_else(|| type_error(env, "the write plan is not bound"))?;
        let write = CarrierWrite::new(&context);

        let code = |name: &str, value: Option<&str>| match value {
            None => PLAN_DELETE,
            // The values are slices of the write's own strings: the traceparent is told by
            // address, the baggage by its name (it has no event field).
            Some(v) if std::ptr::eq(v.as_ptr(), write.traceparent().as_ptr()) => PLAN_TRACEPARENT,
            Some(_) if name == propagation::BAGGAGE => PLAN_BAGGAGE,
            Some(_) => PLAN_TRACESTATE,
        };
        let number = |name: &str| WRITTEN_NAMES.iter().position(|&n| n == name).unwrap_or(0) as i32;
        let mut count = 0;
        let mut push = |target: i32, name: &str, value: i32| {
            plan[1 + 3 * count..4 + 3 * count].copy_from_slice(&[target, number(name), value]);
            count += 1;
        };
        for (name, value) in write.headers() {
            push(0, name, code(name, Some(value)));
        }
        if with_event {
            for (field, value) in write.event_fields() {
                push(1, field, code(field, value));
            }
        }
        plan[0] = count as i32;
        convert::js_string(env, write.traceparent())
    })
}
