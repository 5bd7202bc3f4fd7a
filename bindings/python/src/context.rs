//! The current span, kept in a `contextvars.ContextVar` so that it follows asyncio tasks
//! and `contextvars.copy_context()` exactly as Python's own context does.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::span::{Span, SpanContext};

static CURRENT_SPAN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The ContextVar holding the current span (or None).
pub fn current_span_var(py: Python<'_>) -> &Bound<'_, PyAny> {
    CURRENT_SPAN
        .get_or_init(py, || {
            py.import("contextvars")
                .and_then(|m| m.getattr("ContextVar")?.call1(("dagnats_observe.current_span",)))
                .map(Bound::unbind)
                .expect("contextvars.ContextVar is always available")
        })
        .bind(py)
}

/// The current span, if any.
pub fn current_span<'py>(py: Python<'py>) -> PyResult<Option<Bound<'py, Span>>> {
    let current = current_span_var(py).call_method1("get", (py.None(),))?;
    Ok(current.cast_into::<Span>().ok())
}

/// The parent a new span or log record links to: an explicit span or span context, else
/// the current span.
pub fn resolve_parent(py: Python<'_>, parent: Option<&Bound<'_, PyAny>>) -> PyResult<Option<dagnats_observe::SpanContext>> {
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
