//! The tracer.

use dagnats_observe::SpanOptions;
use pyo3::prelude::*;

use crate::context::resolve_parent;
use crate::convert;
use crate::span::{Span, SpanKind};

/// Starts spans for one service.
#[pyclass(frozen, module = "dagnats_observe", name = "Tracer")]
pub struct Tracer(pub dagnats_observe::Tracer);

#[pymethods]
impl Tracer {
    /// Starts a span. `parent` is a Span or what `extract()` returns; when omitted the
    /// current span is the parent. Use it with `with` to make it current.
    #[pyo3(signature = (name, *, kind = SpanKind::INTERNAL, attributes = None, parent = None))]
    fn start_span(
        &self,
        py: Python<'_>,
        name: String,
        kind: SpanKind,
        attributes: Option<&Bound<'_, PyAny>>,
        parent: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Span> {
        let attributes = convert::attributes(attributes)?;
        let parent = resolve_parent(py, parent)?;
        let options = SpanOptions::new().kind(kind.into()).attributes(attributes);
        Ok(Span::new(self.0.start_span(name, parent.as_ref(), options)))
    }

    /// A decorator running a function or coroutine function inside a current span
    /// (see `dagnats_observe.tracing.traced`).
    #[pyo3(signature = (name = None, **options))]
    fn traced<'py>(
        slf: &Bound<'py, Self>,
        name: Option<String>,
        options: Option<&Bound<'py, pyo3::types::PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let traced = slf.py().import("dagnats_observe.tracing")?.getattr("traced")?;
        traced.call((slf, name), options)
    }

    /// The service name stamped on every span.
    #[getter]
    fn service(&self) -> &str {
        self.0.service()
    }
}
