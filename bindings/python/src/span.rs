//! Span, SpanContext and the kind and status enums.

use std::sync::Mutex;

use dagnats_observe::{Attribute, SpanContext as CoreContext};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};

use crate::context;
use crate::convert;

/// What kind of work a span stands for.
#[pyclass(eq, eq_int, frozen, module = "dagnats_observe", from_py_object)]
#[derive(Clone, Copy, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
pub enum SpanKind {
    // The core's numbers (dagnats_observe::SpanKind::number), which From below relies on.
    INTERNAL = 0,
    SERVER = 1,
    CLIENT = 2,
    PRODUCER = 3,
    CONSUMER = 4,
}

#[pymethods]
impl SpanKind {
    /// The member's number as its hash: members compare equal to their numbers, so they
    /// hash as those numbers do (usable as dict keys and in sets, as enum members are).
    fn __hash__(&self) -> isize {
        *self as isize
    }
}

impl From<SpanKind> for dagnats_observe::SpanKind {
    fn from(k: SpanKind) -> Self {
        Self::from_number(k as i64).unwrap_or_default()
    }
}

/// A span's status code.
#[pyclass(eq, eq_int, frozen, module = "dagnats_observe", from_py_object)]
#[derive(Clone, Copy, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
pub enum StatusCode {
    // The core's numbers (dagnats_observe::StatusCode::number), which From below relies on.
    UNSET = 0,
    OK = 1,
    ERROR = 2,
}

#[pymethods]
impl StatusCode {
    /// The member's number as its hash (see `SpanKind.__hash__`).
    fn __hash__(&self) -> isize {
        *self as isize
    }
}

impl From<StatusCode> for dagnats_observe::StatusCode {
    fn from(s: StatusCode) -> Self {
        Self::from_number(s as i64).unwrap_or_default()
    }
}

/// The identity of a span as it travels: what `extract` returns, and what a span's
/// `span_context` is.
#[pyclass(frozen, module = "dagnats_observe", name = "SpanContext")]
pub struct SpanContext(pub CoreContext);

#[pymethods]
impl SpanContext {
    /// Trace id, 32 lowercase hex characters.
    #[getter]
    fn trace_id(&self) -> String {
        self.0.trace_id.to_string()
    }
    /// Span id, 16 lowercase hex characters.
    #[getter]
    fn span_id(&self) -> String {
        self.0.span_id.to_string()
    }
    /// W3C trace flags.
    #[getter]
    fn trace_flags(&self) -> u8 {
        self.0.trace_flags.0
    }
    /// W3C tracestate ("" when none).
    #[getter]
    fn trace_state(&self) -> &str {
        self.0.trace_state.as_str()
    }
    /// The W3C baggage list, normalized (invalid members dropped, no optional white
    /// space); "" when there is none. A child span carries it on; inject writes it as the
    /// `baggage` header.
    #[getter]
    fn baggage(&self) -> &str {
        self.0.baggage.as_str()
    }
    /// True when extracted from a message.
    #[getter]
    fn is_remote(&self) -> bool {
        self.0.is_remote
    }
    /// The traceparent header value.
    #[getter]
    fn traceparent(&self) -> String {
        self.0.traceparent()
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<SpanContext>().is_ok_and(|o| o.get().0 == self.0)
    }
    fn __hash__(&self) -> u64 {
        u64::from_be_bytes(self.0.span_id.to_bytes())
    }
    fn __repr__(&self) -> String {
        format!(
            "SpanContext(traceparent={:?}, trace_state={:?}, is_remote={})",
            self.0.traceparent(),
            self.0.trace_state.as_str(),
            if self.0.is_remote { "True" } else { "False" }
        )
    }
}

/// A span. Use it in a `with` block to make it current and end it on exit, or call
/// `end()` yourself.
#[pyclass(frozen, module = "dagnats_observe", name = "Span")]
pub struct Span {
    inner: Mutex<dagnats_observe::Span>,
    context: CoreContext,
    /// Tokens of the `with` blocks this span is current in (usually one).
    tokens: Mutex<Vec<Py<PyAny>>>,
}

impl Span {
    pub fn new(span: dagnats_observe::Span) -> Self {
        let context = span.span_context().clone();
        Span { inner: Mutex::new(span), context, tokens: Mutex::new(Vec::new()) }
    }

    pub fn context(&self) -> &CoreContext {
        &self.context
    }

    fn with<R>(&self, f: impl FnOnce(&mut dagnats_observe::Span) -> R) -> R {
        // A panic inside the core while the lock was held cannot corrupt a span that is
        // only ever mutated field by field.
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    fn record_py_error(&self, err: &Bound<'_, PyAny>) -> PyResult<()> {
        if err.is_instance_of::<pyo3::exceptions::PyBaseException>() {
            let message = err.str()?.to_cow()?.into_owned();
            let type_name = err.get_type().qualname()?.to_cow()?.into_owned();
            self.with(|s| s.record_exception(message, Some(type_name)));
        } else {
            let message = err.str()?.to_cow()?.into_owned();
            self.with(|s| s.record_exception(message, None));
        }
        Ok(())
    }
}

#[pymethods]
impl Span {
    /// Sets the status (UNSET never overrides; OK is final).
    #[pyo3(signature = (code, description = ""))]
    fn set_status(&self, code: StatusCode, description: &str) {
        self.with(|s| s.set_status(code.into(), description));
    }

    /// Sets one attribute: str, int (int64), float or bool.
    fn set_attribute(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let key = key
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("attribute keys must be str"))?
            .to_cow()?
            .into_owned();
        let value = convert::value(&key, value)?;
        self.with(|s| s.set_attribute(Attribute::new(key, value)));
        Ok(())
    }

    /// Sets every attribute of a mapping.
    fn set_attributes(&self, attributes: &Bound<'_, PyAny>) -> PyResult<()> {
        let attrs = convert::attributes(Some(attributes))?;
        self.with(|s| s.set_attributes(attrs));
        Ok(())
    }

    /// Records an exception or a message: error status, `error` on the record, and an
    /// `exception` event.
    fn record_error(&self, error: &Bound<'_, PyAny>) -> PyResult<()> {
        self.record_py_error(error)
    }

    /// Adds a timestamped event.
    #[pyo3(signature = (name, attributes = None))]
    fn add_event(&self, name: String, attributes: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let attrs = convert::attributes(attributes)?;
        self.with(|s| s.add_event(name, attrs));
        Ok(())
    }

    /// Ends the span (a second call does nothing). Never blocks on the network.
    fn end(&self) {
        self.with(|s| s.end());
    }

    /// Trace id, 32 lowercase hex characters.
    #[getter]
    fn trace_id(&self) -> String {
        self.context.trace_id.to_string()
    }
    /// Span id, 16 lowercase hex characters.
    #[getter]
    fn span_id(&self) -> String {
        self.context.span_id.to_string()
    }
    /// The traceparent header value for the next hop.
    #[getter]
    fn traceparent(&self) -> String {
        self.context.traceparent()
    }
    /// The span's identity.
    #[getter]
    fn span_context(&self) -> SpanContext {
        SpanContext(self.context.clone())
    }
    /// True until the span ends.
    #[getter]
    fn is_recording(&self) -> bool {
        self.with(|s| s.is_recording())
    }

    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        let token = context::enter(slf)?;
        slf.get().tokens.lock().unwrap_or_else(|p| p.into_inner()).push(token);
        Ok(slf.clone().unbind())
    }

    fn __exit__(
        slf: &Bound<'_, Self>,
        _exc_type: Option<&Bound<'_, PyType>>,
        exc: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let this = slf.get();
        if let Some(exc) = exc.filter(|e| !e.is_none()) {
            this.record_py_error(exc)?;
        }
        this.end();
        let token = this.tokens.lock().unwrap_or_else(|p| p.into_inner()).pop();
        if let Some(token) = token {
            context::exit(slf.py(), token)?;
        }
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "Span(trace_id={:?}, span_id={:?})",
            self.context.trace_id.to_string(),
            self.context.span_id.to_string()
        )
    }
}
