//! Trace context on messages: the native halves of the package's `extract` and `inject`,
//! as bare Node-API callbacks ([`crate::raw`]). The package only walks the carrier it was
//! given (plain object, `Map`, nats.js `MsgHdrs`, a DagNats event object) and passes what
//! it finds as it finds it; which names count, which values are malformed, what is
//! replaced and what is written are the core's rules ([`propagation::extract_carrier`],
//! [`propagation::CarrierWrite`]).
//!
//! JavaScript signatures (`SpanFunctions` in native-header.d.ts):
//!
//! - `extractCarrier(event?, ...headerPairs) -> string | null`
//! - `carrierWrite(traceState, event?, ...headerNames) -> Array`

use std::ptr;

use dagnats_observe::propagation::{self, CarrierValue, CarrierWrite};
use napi::sys::{self, ValueType};

use crate::convert;
use crate::error::type_error;
use crate::handles;
use crate::raw::{boundary, undefined, Arguments, Callback};

/// The callbacks of this module, by JavaScript name.
pub const CALLBACKS: &[(&str, Callback)] = &[("extractCarrier", extract_carrier), ("carrierWrite", carrier_write)];

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
    if convert::type_of(env, value)? == ValueType::napi_string {
        return Ok(Held::Text(convert::string(env, value, &|| "header value".to_owned())?));
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
/// returned (`""` when there is none); `null` when neither source holds a valid context.
unsafe extern "C" fn extract_carrier(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let rest = args.rest(1);
        if rest.len() % 2 == 1 {
            return Err(type_error(env, "header pairs must be name, value pairs"));
        }
        let mut pairs: Vec<(String, Held)> = Vec::new();
        for pair in rest.chunks_exact(2) {
            if convert::type_of(env, pair[0])? != ValueType::napi_string {
                continue;
            }
            let name = convert::string(env, pair[0], &|| "header name".to_owned())?;
            // The core never looks at other names' values: neither is converted.
            // (`replaces` is the core's test for either trace-context name.)
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
                convert::js_string(env, context.trace_state.as_str())
            }
            None => convert::js_null(env),
        }
    })
}

/// The write of the span context in the id buffer (with `traceState`) into a carrier,
/// by [`CarrierWrite`]. The event object's fields, when there is an event, are written
/// here (a field whose value is `None` is deleted). The headers are returned as one flat
/// array of `name, value` operations for the package to apply in order: first the
/// carrier's own names (the trailing arguments) that the write replaces, each with
/// `undefined` (delete it), then the headers to set. A name that is not a string is never
/// replaced.
unsafe extern "C" fn carrier_write(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let trace_state = convert::optional_string(env, args.get(0, env), &|| "traceState".to_owned())?;
        let context = handles::read_ids(trace_state.as_deref())
            .ok_or_else(|| type_error(env, "the id buffer holds no valid span identity"))?;
        let write = CarrierWrite::new(&context);

        let mut ops: Vec<sys::napi_value> = Vec::with_capacity(4);
        for &name in args.rest(2) {
            if convert::type_of(env, name)? == ValueType::napi_string
                && CarrierWrite::replaces(&convert::string(env, name, &|| "header name".to_owned())?)
            {
                ops.extend([name, undefined(env)]);
            }
        }
        for (name, value) in write.headers() {
            ops.extend([convert::js_string(env, name)?, convert::js_string(env, value)?]);
        }
        let event = args.get(1, env);
        if !convert::is_nullish(env, event)? {
            for (field, value) in write.event_fields() {
                let field = convert::js_string(env, field)?;
                let status = match value {
                    Some(value) => unsafe {
                        sys::napi_set_property(env, event, field, convert::js_string(env, value)?)
                    },
                    None => unsafe { sys::napi_delete_property(env, event, field, ptr::null_mut()) },
                };
                if status != sys::Status::napi_ok {
                    // A frozen event, or a setter that threw: its exception propagates.
                    return Err(napi::Error::new(napi::Status::PendingException, "writing the event failed"));
                }
            }
        }
        let mut array = ptr::null_mut();
        unsafe { sys::napi_create_array_with_length(env, ops.len(), &mut array) };
        for (i, value) in ops.into_iter().enumerate() {
            unsafe { sys::napi_set_element(env, array, i as u32, value) };
        }
        Ok(array)
    })
}
