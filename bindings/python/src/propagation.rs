//! Trace context on a Python carrier: the package's `extract` and `inject` walk the
//! caller's objects here and hand what they find to the core, which decides
//! (`propagation::extract_carrier`, `propagation::CarrierWrite`). Carriers are any mapping
//! with `items()` (nats-py's `msg.headers` dict, or a mapping whose values are lists of
//! strings, since a NATS header can repeat) and DagNats event mappings.

use dagnats_observe::propagation::{self, CarrierValue, CarrierWrite};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::span::SpanContext;

/// A carrier value read out of its Python object (the stable ABI has no borrowed `str`
/// view, so text is copied; only trace-context fields are read, so this is a few bytes).
enum Held<'py> {
    Text(String),
    Bytes(Bound<'py, PyBytes>),
    Other,
}

impl<'py> Held<'py> {
    fn of(value: &Bound<'py, PyAny>) -> Held<'py> {
        if let Ok(s) = value.cast::<PyString>() {
            return s.to_cow().map_or(Held::Other, |s| Held::Text(s.into_owned()));
        }
        if let Ok(b) = value.cast::<PyBytes>() {
            return Held::Bytes(b.clone());
        }
        Held::Other
    }

    fn value(&self) -> CarrierValue<'_> {
        match self {
            Held::Text(s) => CarrierValue::Text(s),
            Held::Bytes(b) => CarrierValue::Bytes(b.as_bytes()),
            Held::Other => CarrierValue::Other,
        }
    }
}

/// The `(name, value)` pairs of the trace-context names in `headers`, values as the
/// mapping holds them (a list or tuple gives one pair per item). Other names are never
/// looked at.
fn trace_fields<'py>(headers: &Bound<'py, PyAny>) -> PyResult<Vec<(String, Held<'py>)>> {
    let items = match headers.cast::<PyDict>() {
        Ok(d) => d.items().into_any(),
        Err(_) if headers.hasattr("items")? => headers.call_method0("items")?,
        Err(_) => {
            return Err(PyTypeError::new_err(format!("headers must be a mapping, got {}", headers.get_type().name()?)))
        }
    };
    let mut fields = Vec::new();
    for item in items.try_iter()? {
        let (name, value): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item?.extract()?;
        // A name that is not a str cannot be a trace-context name.
        let Some(name) = name.cast::<PyString>().ok().and_then(|n| n.to_cow().ok().map(|n| n.into_owned())) else {
            continue;
        };
        if !CarrierWrite::replaces(&name) {
            continue;
        }
        if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
            for v in value.try_iter()? {
                fields.push((name.clone(), Held::of(&v?)));
            }
        } else {
            fields.push((name, Held::of(&value)));
        }
    }
    Ok(fields)
}

/// The remote parent carried by `headers` (first) or the `event`'s `trace_parent` /
/// `trace_state`, or None. Carrier content never raises: a malformed or non-text value
/// simply carries no parent. A `headers` or `event` that is not a mapping is a TypeError.
#[pyfunction]
#[pyo3(signature = (headers = None, event = None))]
pub fn extract(headers: Option<&Bound<'_, PyAny>>, event: Option<&Bound<'_, PyAny>>) -> PyResult<Option<SpanContext>> {
    let fields = match headers {
        Some(h) if !h.is_none() => trace_fields(h)?,
        _ => Vec::new(),
    };
    let (mut trace_parent, mut trace_state) = (None, None);
    if let Some(event) = event.filter(|e| !e.is_none()) {
        if !event.hasattr("get")? {
            return Err(PyTypeError::new_err(format!("event must be a mapping, got {}", event.get_type().name()?)));
        }
        let get = |field: &str| -> PyResult<Option<Held<'_>>> {
            let v = event.call_method1("get", (field,))?;
            Ok((!v.is_none()).then(|| Held::of(&v)))
        };
        trace_parent = get(propagation::EVENT_TRACE_PARENT)?;
        trace_state = get(propagation::EVENT_TRACE_STATE)?;
    }
    let pairs = fields.iter().map(|(name, value)| (name.as_str(), value.value()));
    Ok(propagation::extract_carrier(
        pairs,
        trace_parent.as_ref().map(Held::value),
        trace_state.as_ref().map(Held::value),
    )
    .map(SpanContext))
}

/// Writes `context` into `headers` (a mutable mapping; a new dict when None, returned)
/// and, with `event`, into its fields, as the core's `CarrierWrite` says: existing
/// trace-context headers in any letter case are removed first.
#[pyfunction]
#[pyo3(signature = (context, headers = None, event = None))]
pub fn inject<'py>(
    py: Python<'py>,
    context: &SpanContext,
    headers: Option<Bound<'py, PyAny>>,
    event: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let write = CarrierWrite::new(&context.0);
    let headers = match headers.filter(|h| !h.is_none()) {
        Some(h) => h,
        None => PyDict::new(py).into_any(),
    };
    if !headers.hasattr("__setitem__")? || !headers.hasattr("keys")? {
        return Err(PyTypeError::new_err(format!(
            "headers must be a mutable mapping, got {}",
            headers.get_type().name()?
        )));
    }
    let mut stale = Vec::new();
    for name in headers.call_method0("keys")?.try_iter()? {
        let name = name?;
        if name.cast::<PyString>().is_ok_and(|n| n.to_cow().is_ok_and(|n| CarrierWrite::replaces(&n))) {
            stale.push(name);
        }
    }
    for name in stale {
        headers.del_item(name)?;
    }
    for (name, value) in write.headers() {
        headers.set_item(name, value)?;
    }
    if let Some(event) = event.filter(|e| !e.is_none()) {
        for (field, value) in write.event_fields() {
            match value {
                Some(value) => event.set_item(field, value)?,
                None => {
                    event.call_method1("pop", (field, py.None()))?;
                }
            }
        }
    }
    Ok(headers)
}

/// In a forked child (called from `os.register_at_fork`): reseeds the id generator and
/// gives every connected Telemetry its own connection and publisher thread.
#[pyfunction]
pub fn after_fork_in_child() {
    crate::telemetry::after_fork_in_child();
}
