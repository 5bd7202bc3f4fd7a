//! Spans: start, record, end. JavaScript's `Span` (index.js) holds a handle into the
//! span table ([`crate::handles`]) and calls these bare Node-API callbacks
//! ([`crate::raw`]); the recording itself is the core's [`dagnats_observe::Span`].
//!
//! Strings, numbers and booleans set as attributes are buffered on the JavaScript side
//! and arrive with the span's next call as `count` plus the attribute buffer and trailing
//! text (the protocol is described in the package's `span-buffers.js`), so that
//! attributes, status, errors and events keep their order at a fraction of the boundary
//! crossings. Every other value arrives as it is (`spanSetAttribute`, an `attributes`
//! object) and is converted or rejected here ([`convert::attribute_value`]): the type
//! rules and their messages are only the addon's.
//!
//! JavaScript signatures (`SpanFunctions` in native-header.d.ts):
//!
//! - `spanStart(telemetry, name, kind?, attributes?, hasParent?, parentTraceState?, parentBaggage?, count, ...text) -> handle`
//! - `spanSetAttributes(handle, count, ...text)`
//! - `spanSetAttributeObject(handle, attributes, count, ...text)`
//! - `spanSetAttribute(handle, key, value, count, ...text)`
//! - `spanAddEvent(handle, name, attributes?, count, ...text)`
//! - `spanSetStatus(handle, code, description?, count, ...text)`
//! - `spanRecordError(handle, error, count, ...text)`
//! - `spanUpdateName(handle, name, count, ...text)`
//! - `spanEnd(handle, count, ...text)`
//! - `spanRelease(handle)`

use dagnats_observe as core;
use dagnats_observe::intern;
use napi::sys;

use crate::convert;
use crate::error::type_error;
use crate::handles;
use crate::kind;
use crate::raw::{args, boundary, undefined, Arguments, Callback};

/// The callbacks of this module, by JavaScript name.
pub const CALLBACKS: &[(&str, Callback)] = &[
    ("spanStart", span_start),
    ("spanSetAttributes", span_set_attributes),
    ("spanSetAttributeObject", span_set_attribute_object),
    ("spanSetAttribute", span_set_attribute),
    ("spanAddEvent", span_add_event),
    ("spanSetStatus", span_set_status),
    ("spanRecordError", span_record_error),
    ("spanUpdateName", span_update_name),
    ("spanEnd", span_end),
    ("spanRelease", span_release),
];

/// Applies the buffered attributes to `span`: `count` (an argument) triples of the
/// attribute buffer, with their text in `text`, in order.
fn apply_pending(
    env: sys::napi_env,
    span: &mut core::Span,
    count: sys::napi_value,
    text: &[sys::napi_value],
) -> napi::Result<()> {
    let mut n = 0.0;
    unsafe { sys::napi_get_value_double(env, count, &mut n) };
    let count = n as usize;
    if count == 0 {
        return Ok(());
    }
    let words = handles::attribute_words().ok_or_else(|| type_error(env, "the attribute buffer is not bound"))?;
    if count > handles::ATTRIBUTE_BUFFER_LEN {
        return Err(type_error(env, "too many buffered attributes for one call"));
    }
    let mut text = text.iter();
    let mut next_text = |what: &dyn Fn() -> String| {
        text.next().copied().ok_or_else(|| type_error(env, format!("{} is missing", what())))
    };
    for triple in words[..3 * count].chunks_exact(3) {
        let [key, kind, number] = [triple[0], triple[1], triple[2]];
        let key = if key >= 0.0 {
            intern::text(key as u32)
                .map(std::borrow::Cow::Borrowed)
                .ok_or_else(|| type_error(env, "attribute key number is not an interned name"))?
        } else {
            let what = || "attribute key".to_owned();
            std::borrow::Cow::Owned(convert::string(env, next_text(&what)?, &what)?)
        };
        let value = match kind as u32 {
            1 => convert::number_value(number),
            2 => core::Value::Bool(number != 0.0),
            _ => convert::attribute_value(env, &key, next_text(&|| format!("attribute {key:?}"))?)?,
        };
        span.set_attribute(core::Attribute { key, value });
    }
    Ok(())
}

/// Applies the buffered attributes to the live span of `handle` (first thing in every
/// call, before converting arguments can run JavaScript that reuses the attribute
/// buffer); returns the handle, `None` when the span has ended.
fn flush(env: sys::napi_env, args: &Arguments, count_at: usize) -> napi::Result<Option<f64>> {
    let handle = convert::number(env, args.get(0, env), &|| "span handle".to_owned())?;
    let count = args.get(count_at, env);
    match handles::with_span(handle, |span| apply_pending(env, span, count, args.rest(count_at + 1))) {
        Some(applied) => applied.map(|()| Some(handle)),
        None => Ok(None),
    }
}

/// Runs `f` on the live span of `handle`, if it has not ended.
fn on_span(env: sys::napi_env, handle: Option<f64>, f: impl FnOnce(&mut core::Span)) -> napi::Result<sys::napi_value> {
    if let Some(handle) = handle {
        handles::with_span(handle, f);
    }
    Ok(undefined(env))
}

/// Starts a span for the telemetry handle and returns the span's handle (`-1` when this
/// thread holds too many live spans: the span is then recorded at once). With
/// `hasParent`, the parent's identity is read from the id buffer (with
/// `parentTraceState` and `parentBaggage`, each `undefined` or `""` when there is none);
/// the new span's identity is written to the id buffer (its trace state and baggage are
/// the parent's, which the package keeps). Its
/// attributes come buffered (`count`, `...text`) or as an `attributes` object.
unsafe extern "C" fn span_start(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let [telemetry, name, kind, attributes, has_parent, parent_trace_state, parent_baggage] =
            std::array::from_fn(|i| args.get(i, env));
        // The parent's identity first: converting an attributes object may run JavaScript
        // (getters) that uses the id buffer. The package sends either buffered attributes
        // or an object, never both, so no getter runs before the buffered ones are read.
        let parent = if convert::truthy_bool(env, has_parent)? {
            let state = convert::optional_string(env, parent_trace_state, &|| "parentTraceState".to_owned())?;
            let baggage = convert::optional_string(env, parent_baggage, &|| "parentBaggage".to_owned())?;
            Some(
                handles::read_ids(state.as_deref(), baggage.as_deref())
                    .ok_or_else(|| type_error(env, "parent has no valid span identity"))?,
            )
        } else {
            None
        };
        let telemetry = convert::number(env, telemetry, &|| "telemetry handle".to_owned())?;
        let name = convert::name(env, name, &|| "span name".to_owned())?;
        let mut options = core::SpanOptions::new();
        options = options.kind(kind::span_kind(env, kind)?);
        if !convert::is_nullish(env, attributes)? {
            options = options.attributes(convert::attributes(env, attributes, "attributes")?);
        }
        let mut span =
            handles::with_tracer(telemetry as u32, |tracer| tracer.start_span(name, parent.as_ref(), options))
                .ok_or_else(|| type_error(env, "telemetry handle is not valid"))?;
        // Buffered attributes go straight into the started span's record, as `setAttribute`'s
        // do (the same limits apply; no list of them is built on the way).
        apply_pending(env, &mut span, args.get(7, env), args.rest(8))?;
        handles::write_ids(span.span_context());
        convert::js_number(env, handles::insert_span(span).unwrap_or(-1.0))
    })
}

/// Applies buffered attributes (more than one call's worth, or another span's turn).
unsafe extern "C" fn span_set_attributes(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        flush(env, &args, 1)?;
        Ok(undefined(env))
    })
}

/// Applies buffered attributes, then every attribute of `attributes`, a plain object that
/// the package does not buffer (all converted before any is set: a value that is
/// rejected leaves the span as it was).
unsafe extern "C" fn span_set_attribute_object(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let handle = flush(env, &args, 2)?;
        let attributes = convert::object_attributes(env, args.get(1, env), "attributes")?;
        on_span(env, handle, |span| attributes.into_iter().for_each(|attribute| span.set_attribute(attribute)))
    })
}

/// Applies buffered attributes, then one attribute given as it is: a key and a value
/// that the package does not buffer (a bigint, or something that is no attribute value).
unsafe extern "C" fn span_set_attribute(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let handle = flush(env, &args, 3)?;
        let key = convert::string(env, args.get(1, env), &|| "attribute key".to_owned())?;
        let value = convert::attribute_value(env, &key, args.get(2, env))?;
        on_span(env, handle, |span| span.set_attribute(core::Attribute { key: key.into(), value }))
    })
}

/// Adds a timestamped event with optional attributes.
unsafe extern "C" fn span_add_event(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let handle = flush(env, &args, 3)?;
        let name = convert::name(env, args.get(1, env), &|| "event name".to_owned())?;
        let attributes = convert::attributes(env, args.get(2, env), "event attributes")?;
        on_span(env, handle, |span| span.add_event(name, attributes))
    })
}

/// Sets the status (OpenTelemetry's rules: `Unset` never overrides, `Ok` is final); the
/// description is kept in the record's `status_message`.
unsafe extern "C" fn span_set_status(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let handle = flush(env, &args, 3)?;
        let code = kind::status_code(env, args.get(1, env))?;
        let description = convert::optional_string(env, args.get(2, env), &|| "description".to_owned())?;
        on_span(env, handle, |span| span.set_status(code, description.unwrap_or_default()))
    })
}

/// Records anything thrown: error status, its message in the record's `error`, and an
/// `exception` event with `exception.message` and `exception.type` (the class name).
unsafe extern "C" fn span_record_error(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let handle = flush(env, &args, 2)?;
        if handle.is_none() {
            return Ok(undefined(env));
        }
        let (message, type_name) = convert::error_description(env, args.get(1, env));
        on_span(env, handle, |span| span.record_exception(message, type_name))
    })
}

/// Renames the span.
unsafe extern "C" fn span_update_name(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let handle = flush(env, &args, 2)?;
        let name = convert::name(env, args.get(1, env), &|| "name".to_owned())?;
        on_span(env, handle, |span| span.update_name(name))
    })
}

/// Applies the buffered attributes, ends the span and hands its record to the sink (never waits for
/// the network). A handle that has already ended does nothing.
unsafe extern "C" fn span_end(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let args = Arguments::read(env, info);
        let handle = convert::number(env, args.get(0, env), &|| "span handle".to_owned())?;
        if let Some(mut span) = handles::remove_span(handle) {
            let applied = apply_pending(env, &mut span, args.get(1, env), args.rest(2));
            span.end();
            applied?;
        }
        Ok(undefined(env))
    })
}

/// Releases a span that JavaScript collected without ending it: the core ends it then,
/// as it ends a dropped span. A handle that has already ended does nothing.
unsafe extern "C" fn span_release(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    boundary(env, || {
        let [handle] = args::<1>(env, info);
        let handle = convert::number(env, handle, &|| "span handle".to_owned())?;
        drop(handles::remove_span(handle));
        Ok(undefined(env))
    })
}
