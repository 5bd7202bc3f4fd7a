//! The explicit context that carries the current span through Rust code.
//!
//! Like the Go seed's `ctx`, a [`Context`] is passed down by the caller:
//! [`Tracer::start`](crate::Tracer::start) takes the parent's context and returns the
//! child's. It holds only the span's identity, so it is cheap to clone and `Send`.
//! A context built from a message's headers makes the next span a child of the remote
//! span.
//!
//! ```
//! use dagnats_observe::{propagation, Context, SpanOptions, Telemetry};
//!
//! let (tel, _memory) = Telemetry::in_memory("docs");
//! let headers = [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")];
//! let cx = Context::from_remote(propagation::extract_from_headers(headers));
//! let (_cx, span) = tel.tracer.start(&cx, "worker.executeTask", SpanOptions::new());
//! assert_eq!(span.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! ```

use crate::propagation::SpanContext;

/// The current span's identity, or none (the next span starts a new trace).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    span: Option<SpanContext>,
}

impl Context {
    /// An empty context: spans started from it are roots.
    pub const fn new() -> Self {
        Context { span: None }
    }

    /// A context whose current span is `parent`, when there is one; for example what
    /// [`propagation::extract`](crate::propagation::extract) returned.
    pub fn from_remote(parent: Option<SpanContext>) -> Self {
        Context { span: parent }
    }

    /// A context holding `span` as the current span.
    pub fn with_span(span: SpanContext) -> Self {
        Context { span: Some(span) }
    }

    /// The current span's identity.
    pub fn span_context(&self) -> Option<&SpanContext> {
        self.span.as_ref()
    }

    /// The `traceparent` of the current span, to write into an outgoing message.
    pub fn traceparent(&self) -> Option<String> {
        self.span.as_ref().map(SpanContext::traceparent)
    }
}
