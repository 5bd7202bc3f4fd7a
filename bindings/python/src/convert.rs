//! Python values to attribute values: str, int (int64), float, bool; anything else is a
//! TypeError naming the key.

use std::borrow::Cow;

use dagnats_observe::{Attribute, Value};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyMapping, PyString};

/// One attribute value. `bool` is checked before `int` because it is a subclass of it.
pub fn value(key: &str, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(Cow::Owned(s.to_cow()?.into_owned())));
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.is_truthy()?));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<i64>().map(Value::Int).map_err(|_| {
            PyValueError::new_err(format!("attribute {key:?}: integer {obj} is outside the int64 range"))
        });
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    Err(PyTypeError::new_err(format!(
        "attribute {key:?}: unsupported type {}; expected str, int, float or bool",
        obj.get_type().name()?
    )))
}

/// A key, which must be a str.
fn key(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    obj.cast::<PyString>()
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "attribute keys must be str, got {}",
                obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            ))
        })?
        .to_cow()
        .map(|c| c.into_owned())
}

/// Attributes from a dict or any mapping; `None` gives none.
pub fn attributes(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Attribute>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    if let Ok(d) = obj.cast::<PyDict>() {
        out.reserve(d.len());
        for (k, v) in d.iter() {
            let k = key(&k)?;
            let v = value(&k, &v)?;
            out.push(Attribute::new(k, v));
        }
        return Ok(out);
    }
    let m = obj
        .cast::<PyMapping>()
        .map_err(|_| PyTypeError::new_err("attributes must be a mapping of str to str, int, float or bool"))?;
    for item in m.items()?.iter() {
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        let k = key(&k)?;
        let v = value(&k, &v)?;
        out.push(Attribute::new(k, v));
    }
    Ok(out)
}

/// Metric tags: a mapping of str to str (other values are turned into their str()).
pub fn tags(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(Vec::new()) };
    let m = obj.cast::<PyMapping>().map_err(|_| PyTypeError::new_err("tags must be a mapping of str to str"))?;
    let mut out = Vec::new();
    for item in m.items()?.iter() {
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        out.push((key(&k)?, v.str()?.to_cow()?.into_owned()));
    }
    Ok(out)
}
