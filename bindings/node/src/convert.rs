//! JavaScript values into the core's types, with the binding's type rules.
//!
//! Attribute values: a string, a boolean, a number (an integer that `Number.isSafeInteger`
//! accepts becomes an int64, any other number a float64) or a bigint (int64 range, else a
//! `RangeError`). Anything else is a `TypeError` naming the key. Plain objects of such
//! values are read by their own enumerable string keys.
//!
//! These helpers work on raw `napi_value`s so that the hot path (a span's attributes)
//! costs one Node-API call per value kind check and no intermediate allocations.

use std::borrow::Cow;
use std::ffi::c_char;
use std::ptr;

use dagnats_observe::{intern, Attribute, Value};
use napi::bindgen_prelude::Unknown;
use napi::sys::{self, ValueType};
use napi::JsValue;

use crate::error::{range_error, type_error};

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Turns a failed Node-API status into an error, keeping a pending JS exception (thrown
/// by a getter, for instance) as the one that propagates.
fn check(env: sys::napi_env, status: sys::napi_status) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        return Ok(());
    }
    let mut pending = false;
    unsafe { sys::napi_is_exception_pending(env, &mut pending) };
    if pending {
        Err(napi::Error::new(napi::Status::PendingException, "a JavaScript exception is pending"))
    } else {
        Err(napi::Error::new(napi::Status::from(status), "Node-API call failed"))
    }
}

/// The raw parts of an argument.
pub fn raw(value: &Unknown<'_>) -> (sys::napi_env, sys::napi_value) {
    let v = value.value();
    (v.env, v.value)
}

/// `typeof value`, as Node-API reports it.
pub fn type_of(env: sys::napi_env, value: sys::napi_value) -> napi::Result<i32> {
    let mut kind = 0;
    check(env, unsafe { sys::napi_typeof(env, value, &mut kind) })?;
    Ok(kind)
}

/// True for `undefined` and `null`.
pub fn is_nullish(env: sys::napi_env, value: sys::napi_value) -> napi::Result<bool> {
    let kind = type_of(env, value)?;
    Ok(kind == ValueType::napi_undefined || kind == ValueType::napi_null)
}

/// The name JS's `typeof` gives a Node-API value type, for error messages.
fn type_name(kind: i32) -> &'static str {
    match kind {
        ValueType::napi_undefined => "undefined",
        ValueType::napi_null => "null",
        ValueType::napi_boolean => "boolean",
        ValueType::napi_number => "number",
        ValueType::napi_string => "string",
        ValueType::napi_symbol => "symbol",
        ValueType::napi_object => "object",
        ValueType::napi_function => "function",
        ValueType::napi_bigint => "bigint",
        _ => "external",
    }
}

/// What a value is, for error messages: `typeof`, with `null` and arrays told apart.
pub fn describe(env: sys::napi_env, value: sys::napi_value) -> napi::Result<&'static str> {
    let kind = type_of(env, value)?;
    let mut is_array = false;
    if kind == ValueType::napi_object {
        check(env, unsafe { sys::napi_is_array(env, value, &mut is_array) })?;
    }
    Ok(if is_array { "array" } else { type_name(kind) })
}

/// Reads a JS string; `None` when the value is not a string.
pub fn try_string(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Option<String>> {
    // Most strings here are short (names, keys, ids): one call into a stack buffer.
    let mut stack = [0u8; 128];
    let mut written = 0usize;
    let status = unsafe {
        sys::napi_get_value_string_utf8(env, value, stack.as_mut_ptr() as *mut c_char, stack.len(), &mut written)
    };
    if status == sys::Status::napi_string_expected {
        return Ok(None);
    }
    check(env, status)?;
    if written < stack.len() - 4 {
        // Not truncated: Node-API stops at most 4 bytes (one character) short of the end.
        // SAFETY: Node-API wrote `written` bytes of UTF-8 (it replaces lone surrogates).
        return Ok(Some(unsafe { std::str::from_utf8_unchecked(&stack[..written]) }.to_owned()));
    }
    let mut len = 0usize;
    check(env, unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) })?;
    let mut buf: Vec<u8> = Vec::with_capacity(len + 1);
    check(env, unsafe {
        sys::napi_get_value_string_utf8(env, value, buf.as_mut_ptr() as *mut c_char, len + 1, &mut written)
    })?;
    // SAFETY: as above; `written` <= `len` bytes were initialized.
    unsafe { buf.set_len(written) };
    Ok(Some(unsafe { String::from_utf8_unchecked(buf) }))
}

/// A string argument; a `TypeError` naming `what` otherwise.
pub fn string(env: sys::napi_env, value: sys::napi_value, what: &dyn Fn() -> String) -> napi::Result<String> {
    match try_string(env, value)? {
        Some(s) => Ok(s),
        None => {
            let got = describe(env, value)?;
            Err(type_error(env, format!("{} must be a string, got {got}", what())))
        }
    }
}

/// A name (attribute key, span or event name) as the package passes it: a string, or
/// the number of a name in the core's intern table (`internName`), borrowed, not copied.
/// The package passes only strings and numbers it got from `internName`; anything else
/// is a `TypeError` naming `what`.
pub fn name(env: sys::napi_env, value: sys::napi_value, what: &dyn Fn() -> String) -> napi::Result<Cow<'static, str>> {
    let mut id = 0.0;
    if unsafe { sys::napi_get_value_double(env, value, &mut id) } == sys::Status::napi_ok {
        return match intern::text(id as u32).filter(|_| id >= 0.0 && id.fract() == 0.0) {
            Some(name) => Ok(Cow::Borrowed(name)),
            None => Err(type_error(env, format!("{} must be a string, got number", what()))),
        };
    }
    string(env, value, what).map(Cow::Owned)
}

/// An optional string argument: `undefined`/`null` give `None`.
pub fn optional_string(
    env: sys::napi_env,
    value: sys::napi_value,
    what: &dyn Fn() -> String,
) -> napi::Result<Option<String>> {
    if is_nullish(env, value)? {
        return Ok(None);
    }
    string(env, value, what).map(Some)
}

/// A number argument; a `TypeError` naming `what` otherwise.
pub fn number(env: sys::napi_env, value: sys::napi_value, what: &dyn Fn() -> String) -> napi::Result<f64> {
    let mut n = 0.0;
    let status = unsafe { sys::napi_get_value_double(env, value, &mut n) };
    if status == sys::Status::napi_number_expected {
        let got = describe(env, value)?;
        return Err(type_error(env, format!("{} must be a number, got {got}", what())));
    }
    check(env, status)?;
    Ok(n)
}

/// A boolean argument; a `TypeError` naming `what` otherwise.
pub fn boolean(env: sys::napi_env, value: sys::napi_value, what: &dyn Fn() -> String) -> napi::Result<bool> {
    let mut b = false;
    let status = unsafe { sys::napi_get_value_bool(env, value, &mut b) };
    if status == sys::Status::napi_boolean_expected {
        let got = describe(env, value)?;
        return Err(type_error(env, format!("{} must be a boolean, got {got}", what())));
    }
    check(env, status)?;
    Ok(b)
}

/// A JS number as an attribute value: a safe integer becomes an int64, any other number
/// a float64.
pub fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
        Value::Int(n as i64)
    } else {
        Value::Float(n)
    }
}

/// One attribute value under the binding's rules (see the module docs).
pub fn attribute_value(env: sys::napi_env, key: &str, value: sys::napi_value) -> napi::Result<Value> {
    let kind = type_of(env, value)?;
    match kind {
        ValueType::napi_string => Ok(Value::String(Cow::Owned(string(env, value, &|| format!("attribute {key:?}"))?))),
        ValueType::napi_number => {
            let mut n = 0.0;
            check(env, unsafe { sys::napi_get_value_double(env, value, &mut n) })?;
            Ok(number_value(n))
        }
        ValueType::napi_boolean => {
            let mut b = false;
            check(env, unsafe { sys::napi_get_value_bool(env, value, &mut b) })?;
            Ok(Value::Bool(b))
        }
        ValueType::napi_bigint => {
            let mut i = 0i64;
            let mut lossless = false;
            check(env, unsafe { sys::napi_get_value_bigint_int64(env, value, &mut i, &mut lossless) })?;
            if lossless {
                Ok(Value::Int(i))
            } else {
                Err(range_error(env, format!("attribute {key:?}: bigint is outside the int64 range (-2^63 to 2^63-1)")))
            }
        }
        _ => Err(type_error(
            env,
            format!("attribute {key:?} must be a string, number, boolean or bigint, got {}", describe(env, value)?),
        )),
    }
}

/// Calls `visit(key, value)` for each own enumerable string-keyed property of `object`,
/// which must be an object (a `TypeError` naming `what` otherwise).
pub fn for_each_property(
    env: sys::napi_env,
    object: sys::napi_value,
    what: &dyn Fn() -> String,
    mut visit: impl FnMut(String, sys::napi_value) -> napi::Result<()>,
) -> napi::Result<()> {
    let got = describe(env, object)?;
    if got != "object" {
        return Err(type_error(env, format!("{} must be a plain object, got {got}", what())));
    }
    let mut keys = ptr::null_mut();
    check(env, unsafe {
        sys::napi_get_all_property_names(
            env,
            object,
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut keys,
        )
    })?;
    let mut len = 0u32;
    check(env, unsafe { sys::napi_get_array_length(env, keys, &mut len) })?;
    for i in 0..len {
        let mut key = ptr::null_mut();
        check(env, unsafe { sys::napi_get_element(env, keys, i, &mut key) })?;
        let mut value = ptr::null_mut();
        check(env, unsafe { sys::napi_get_property(env, object, key, &mut value) })?;
        let key = string(env, key, &|| "property name".to_owned())?;
        visit(key, value)?;
    }
    Ok(())
}

/// The attributes of a plain object (`undefined`/`null` give none).
pub fn attributes(env: sys::napi_env, object: sys::napi_value, what: &str) -> napi::Result<Vec<Attribute>> {
    if is_nullish(env, object)? {
        return Ok(Vec::new());
    }
    object_attributes(env, object, what)
}

/// The attributes of a plain object, which must be one (a `TypeError` naming `what`
/// otherwise, `null` and `undefined` included).
pub fn object_attributes(env: sys::napi_env, object: sys::napi_value, what: &str) -> napi::Result<Vec<Attribute>> {
    let mut out = Vec::new();
    for_each_property(env, object, &|| what.to_owned(), |key, value| {
        let value = attribute_value(env, &key, value)?;
        out.push(Attribute { key: Cow::Owned(key), value });
        Ok(())
    })?;
    Ok(out)
}

/// Metric tags: a plain object of strings (`undefined`/`null` give none).
pub fn tags(env: sys::napi_env, object: sys::napi_value) -> napi::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    if is_nullish(env, object)? {
        return Ok(out);
    }
    for_each_property(env, object, &|| "tags".to_owned(), |key, value| {
        let value = string(env, value, &|| format!("tag {key:?}"))?;
        out.push((key, value));
        Ok(())
    })?;
    Ok(out)
}

/// A named property of an object (`undefined` when absent).
pub fn property(env: sys::napi_env, object: sys::napi_value, name: &std::ffi::CStr) -> napi::Result<sys::napi_value> {
    let mut value = ptr::null_mut();
    check(env, unsafe { sys::napi_get_named_property(env, object, name.as_ptr(), &mut value) })?;
    Ok(value)
}

/// What a thrown value says: its message, and its type name when it is an object
/// (the constructor's name, else its `name`). Never fails: whatever JS throws is
/// described somehow.
pub fn error_description(env: sys::napi_env, thrown: sys::napi_value) -> (String, Option<String>) {
    let described = (|| -> napi::Result<(String, Option<String>)> {
        let kind = type_of(env, thrown)?;
        if kind == ValueType::napi_object || kind == ValueType::napi_function {
            let message = property(env, thrown, c"message")?;
            let message = match try_string(env, message)? {
                Some(m) => m,
                None => coerce_string(env, thrown)?,
            };
            let mut type_name = None;
            let constructor = property(env, thrown, c"constructor")?;
            if type_of(env, constructor)? == ValueType::napi_function {
                type_name = try_string(env, property(env, constructor, c"name")?)?.filter(|s| !s.is_empty());
            }
            if type_name.is_none() {
                type_name = try_string(env, property(env, thrown, c"name")?)?.filter(|s| !s.is_empty());
            }
            Ok((message, type_name))
        } else {
            Ok((coerce_string(env, thrown)?, None))
        }
    })();
    match described {
        Ok(d) => d,
        Err(_) => {
            // A getter threw while we looked: drop that exception, keep the original.
            let mut ignored = ptr::null_mut();
            unsafe { sys::napi_get_and_clear_last_exception(env, &mut ignored) };
            ("unknown error".to_owned(), None)
        }
    }
}

/// `String(value)`.
fn coerce_string(env: sys::napi_env, value: sys::napi_value) -> napi::Result<String> {
    let mut s = ptr::null_mut();
    check(env, unsafe { sys::napi_coerce_to_string(env, value, &mut s) })?;
    Ok(try_string(env, s)?.unwrap_or_default())
}

/// A boolean argument read leniently: `true` is true, anything else false.
pub fn truthy_bool(env: sys::napi_env, value: sys::napi_value) -> napi::Result<bool> {
    let mut b = false;
    let status = unsafe { sys::napi_get_value_bool(env, value, &mut b) };
    Ok(status == sys::Status::napi_ok && b)
}

/// Creates a JS number.
pub fn js_number(env: sys::napi_env, n: f64) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    check(env, unsafe { sys::napi_create_double(env, n, &mut out) })?;
    Ok(out)
}

/// `null`.
pub fn js_null(env: sys::napi_env) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    check(env, unsafe { sys::napi_get_null(env, &mut out) })?;
    Ok(out)
}

/// Creates a JS string.
pub fn js_string(env: sys::napi_env, s: &str) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    check(env, unsafe { sys::napi_create_string_utf8(env, s.as_ptr() as *const c_char, s.len() as isize, &mut out) })?;
    Ok(out)
}

/// Reads an array of strings (a `TypeError` naming `what` otherwise).
pub fn string_array(env: sys::napi_env, array: sys::napi_value, what: &str) -> napi::Result<Vec<String>> {
    let mut is_array = false;
    check(env, unsafe { sys::napi_is_array(env, array, &mut is_array) })?;
    if !is_array {
        let got = describe(env, array)?;
        return Err(type_error(env, format!("{what} must be an array of strings, got {got}")));
    }
    let mut len = 0u32;
    check(env, unsafe { sys::napi_get_array_length(env, array, &mut len) })?;
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut item = ptr::null_mut();
        check(env, unsafe { sys::napi_get_element(env, array, i, &mut item) })?;
        out.push(string(env, item, &|| format!("{what}[{i}]"))?);
    }
    Ok(out)
}
