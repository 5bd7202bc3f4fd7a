//! The current span, kept in a `contextvars.ContextVar` so that it follows asyncio tasks
//! and `contextvars.copy_context()` exactly as Python's own context does.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::span::{Span, SpanContext};

/// The ContextVar and its bound `get`/`set`/`reset` methods, looked up once: calling a
/// cached bound method skips an attribute lookup on every span.
struct CurrentSpanVar {
    var: Py<PyAny>,
    get: Py<PyAny>,
    set: Py<PyAny>,
    reset: Py<PyAny>,
}

static CURRENT_SPAN: PyOnceLock<CurrentSpanVar> = PyOnceLock::new();

fn current(py: Python<'_>) -> &CurrentSpanVar {
    CURRENT_SPAN.get_or_init(py, || {
        let var = py
            .import("contextvars")
            .and_then(|m| m.getattr("ContextVar")?.call1(("dagnats_observe.current_span",)))
            .expect("contextvars.ContextVar is always available");
        let method = |name: &str| var.getattr(name).expect("ContextVar methods").unbind();
        CurrentSpanVar { get: method("get"), set: method("set"), reset: method("reset"), var: var.unbind() }
    })
}

/// The ContextVar holding the current span (or None).
pub fn current_span_var(py: Python<'_>) -> &Bound<'_, PyAny> {
    current(py).var.bind(py)
}

/// Makes `span` current; returns the token that undoes it.
pub fn enter(span: &Bound<'_, Span>) -> PyResult<Py<PyAny>> {
    Ok(current(span.py()).set.bind(span.py()).call1((span,))?.unbind())
}

/// Undoes `enter` with its token. A token made in another context (a generator resumed
/// elsewhere) cannot be reset there; the current span is then cleared instead.
pub fn exit(py: Python<'_>, token: Py<PyAny>) -> PyResult<()> {
    let var = current(py);
    if var.reset.bind(py).call1((token,)).is_err() {
        var.set.bind(py).call1((py.None(),))?;
    }
    Ok(())
}

/// The current span, if any.
pub fn current_span<'py>(py: Python<'py>) -> PyResult<Option<Bound<'py, Span>>> {
    let current = current(py).get.bind(py).call1((py.None(),))?;
    Ok(current.cast_into::<Span>().ok())
}

/// The parent a new span or log record links to: an explicit span or span context, else
/// the current span.
pub fn resolve_parent(
    py: Python<'_>,
    parent: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<dagnats_observe::SpanContext>> {
    match parent.filter(|p| !p.is_none()) {
        None => Ok(current_span(py)?.map(|s| s.get().context().clone())),
        Some(p) => {
            if let Ok(span) = p.cast::<Span>() {
                Ok(Some(span.get().context().clone()))
            } else if let Ok(sc) = p.cast::<SpanContext>() {
                Ok(Some(sc.get().0.clone()))
            } else {
                Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "parent must be a Span or a SpanContext (what extract() returns), got {}",
                    p.get_type().name()?
                )))
            }
        }
    }
}
