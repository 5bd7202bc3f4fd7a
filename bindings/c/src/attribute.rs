//! `dagnats_attribute`: one key/value pair from C, and its conversion into the core's
//! [`Attribute`].

use std::ffi::c_char;

use dagnats_observe::Attribute;

use crate::cstr::{null, str_arg};
use crate::intern::interned_arg;
use crate::result::{Failure, FfiResult};

/// The kind of value a `dagnats_attribute` carries: one of the `DAGNATS_VALUE_*`
/// constants.
pub type dagnats_value_type = u32;
/// `string_value` holds a NUL-terminated UTF-8 string.
pub const DAGNATS_VALUE_STRING: dagnats_value_type = 0;
/// `int_value` holds a signed 64-bit integer (stays an integer on the wire).
pub const DAGNATS_VALUE_INT64: dagnats_value_type = 1;
/// `double_value` holds a 64-bit float (NaN and infinities are written as strings).
pub const DAGNATS_VALUE_DOUBLE: dagnats_value_type = 2;
/// `bool_value` holds a bool.
pub const DAGNATS_VALUE_BOOL: dagnats_value_type = 3;

/// One attribute (span attribute, event attribute or log field). Only the member named
/// by `value_type` is read; C99 designated initializers keep it short:
///
/// ```c
/// dagnats_attribute attrs[] = {
///     { .key = "run_id",  .value_type = DAGNATS_VALUE_STRING, .string_value = "r-42" },
///     { .key = "attempt", .value_type = DAGNATS_VALUE_INT64,  .int_value = 2 },
/// };
/// ```
///
/// Ownership: the caller owns every string; the library copies what it keeps before
/// the call returns. A later attribute with the same key replaces an earlier one.
#[repr(C)]
pub struct dagnats_attribute {
    /// The key, NUL-terminated UTF-8 (for example `"run_id"`). Required.
    pub key: *const c_char,
    /// Which value member is set: a `DAGNATS_VALUE_*` constant.
    pub value_type: dagnats_value_type,
    /// The value for `DAGNATS_VALUE_STRING`, NUL-terminated UTF-8. Required then.
    pub string_value: *const c_char,
    /// The value for `DAGNATS_VALUE_INT64`.
    pub int_value: i64,
    /// The value for `DAGNATS_VALUE_DOUBLE`.
    pub double_value: f64,
    /// The value for `DAGNATS_VALUE_BOOL`.
    pub bool_value: bool,
}

/// Converts one C attribute (its key interned, see `intern`).
///
/// # Safety
/// The strings of `a` are NULL or NUL-terminated.
pub(crate) unsafe fn convert(a: &dagnats_attribute) -> FfiResult<Attribute> {
    let key = interned_arg(a.key, "attribute key")?;
    Ok(match a.value_type {
        DAGNATS_VALUE_STRING => {
            let value = str_arg(a.string_value, "attribute string_value")?;
            Attribute::string(key, value.to_owned())
        }
        DAGNATS_VALUE_INT64 => Attribute::int(key, a.int_value),
        DAGNATS_VALUE_DOUBLE => Attribute::float(key, a.double_value),
        DAGNATS_VALUE_BOOL => Attribute::bool(key, a.bool_value),
        other => return Err(Failure::invalid(format!("attribute {:?}: unknown value_type {other}", key.as_ref()))),
    })
}

/// Converts an array of `len` attributes; NULL is allowed when `len` is 0. Nothing is
/// returned unless every element is valid.
///
/// # Safety
/// `attrs` is NULL or points to `len` attributes whose strings are NULL or NUL-terminated.
pub(crate) unsafe fn convert_all(
    attrs: *const dagnats_attribute,
    len: usize,
    name: &'static str,
) -> FfiResult<Vec<Attribute>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if attrs.is_null() {
        return Err(null(name));
    }
    std::slice::from_raw_parts(attrs, len)
        .iter()
        .enumerate()
        .map(|(i, a)| convert(a).map_err(|f| Failure::new(f.code, format!("{name}[{i}]: {}", f.message))))
        .collect()
}
