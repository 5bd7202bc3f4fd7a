//! The tracer: starts spans.
//!
//! [`Tracer::start`] follows the Go seed: it takes the parent's [`Context`], a name and
//! [`SpanOptions`], and returns the child's context together with the [`Span`]. Language
//! packages use [`Tracer::start_span`], which takes the parent explicitly and lets them
//! keep the current span in their own context mechanism.
//!
//! ```
//! use dagnats_observe::{Attribute, Context, SpanKind, SpanOptions, Telemetry};
//!
//! let (tel, memory) = Telemetry::in_memory("docs");
//! let (cx, mut parent) = tel.tracer.start(&Context::new(), "engine.dispatch", SpanOptions::new());
//! let (_, mut child) = tel.tracer.start(
//!     &cx,
//!     "worker.executeTask",
//!     SpanOptions::new()
//!         .kind(SpanKind::Server)
//!         .attribute(Attribute::string("run_id", "r-42")),
//! );
//! child.end();
//! parent.end();
//! let spans = memory.spans();
//! assert_eq!(spans[0].parent_id, Some(spans[1].span_id));
//! ```

use std::sync::Arc;

use crate::attribute::{Attribute, Attributes, Str};
use crate::clock;
use crate::context::Context;
use crate::id::{SpanId, TraceId};
use crate::limits::SpanLimits;
use crate::propagation::{Baggage, SpanContext, TraceFlags, TraceState};
use crate::record::{self, SpanKind, SpanRecord, StatusCode, Timestamp};
use crate::sink::Sink;
use crate::span::Span;

/// Options for a new span: kind and initial attributes.
#[derive(Clone, Debug, Default)]
pub struct SpanOptions {
    kind: SpanKind,
    attributes: Attributes,
}

impl SpanOptions {
    /// Internal kind, no attributes.
    pub fn new() -> Self {
        SpanOptions::default()
    }

    /// Sets the span kind (the seed's `WithSpanKind`).
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds one initial attribute.
    pub fn attribute(mut self, attribute: Attribute) -> Self {
        self.attributes.set(attribute);
        self
    }

    /// Adds initial attributes (the seed's `WithAttributes`).
    pub fn attributes(mut self, attributes: impl IntoIterator<Item = Attribute>) -> Self {
        self.attributes.extend(attributes);
        self
    }
}

/// Starts spans for one service and hands them to the sink when they end.
/// Cheap to clone; share it freely between threads.
#[derive(Clone)]
pub struct Tracer {
    service: Arc<str>,
    sink: Arc<dyn Sink>,
    limits: SpanLimits,
}

impl Tracer {
    /// A tracer for `service` delivering to `sink`.
    pub fn new(service: impl Into<Arc<str>>, sink: Arc<dyn Sink>) -> Self {
        Tracer { service: service.into(), sink, limits: SpanLimits::default() }
    }

    /// The same tracer with other span limits.
    pub fn with_limits(mut self, limits: SpanLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The span limits.
    pub fn limits(&self) -> SpanLimits {
        self.limits
    }

    /// The service name stamped on every span.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Starts a span as a child of the span in `cx` (a root when there is none) and
    /// returns the context that holds the new span, as the seed's `Start` does.
    pub fn start(&self, cx: &Context, name: impl Into<Str>, options: SpanOptions) -> (Context, Span) {
        let span = self.start_span(name, cx.span_context(), options);
        (Context::with_span(span.span_context().clone()), span)
    }

    /// Starts a span with an explicit parent: a local span's context, a remote parent
    /// extracted from a message, or `None` for a new trace.
    ///
    /// A child keeps its parent's trace id, flags, trace state and baggage. A root gets a new
    /// random trace id and the sampled flag (every span is recorded).
    pub fn start_span(&self, name: impl Into<Str>, parent: Option<&SpanContext>, options: SpanOptions) -> Span {
        let (started, start_time) = clock::now();
        let span_id = SpanId::random();
        let (trace_id, parent_id, flags, trace_state, parent_is_remote, baggage) = match parent {
            Some(p) => {
                (p.trace_id, Some(p.span_id), p.trace_flags, p.trace_state.clone(), p.is_remote, p.baggage.clone())
            }
            None => (TraceId::random(), None, TraceFlags::SAMPLED, TraceState::EMPTY, false, Baggage::EMPTY),
        };
        let mut record = match record::pool::take() {
            Some(mut r) => {
                r.trace_id = trace_id;
                r.span_id = span_id;
                r.parent_id = parent_id;
                r.name = span_name(name);
                if !Arc::ptr_eq(&r.service, &self.service) {
                    r.service = Arc::clone(&self.service);
                }
                r.kind = options.kind;
                r.start_time = start_time;
                r.status = StatusCode::Unset;
                if !trace_state.is_empty() {
                    r.trace_state.push_str(trace_state.as_str());
                }
                r.flags = Some(flags.0);
                r.parent_is_remote = parent_is_remote;
                r
            }
            None => Box::new(SpanRecord {
                trace_id,
                span_id,
                parent_id,
                name: span_name(name),
                service: Arc::clone(&self.service),
                kind: options.kind,
                start_time,
                end_time: Timestamp::default(),
                duration_ms: 0,
                status: StatusCode::Unset,
                status_message: String::new(),
                attributes: Attributes::new(),
                events: Vec::new(),
                error: String::new(),
                trace_state: trace_state.as_str().to_owned(),
                links: Vec::new(),
                flags: Some(flags.0),
                parent_is_remote,
                dropped_attributes_count: 0,
                dropped_events_count: 0,
                truncated_values_count: 0,
            }),
        };
        for attribute in options.attributes {
            self.limits.set_attribute(&mut record, attribute);
        }
        let context = SpanContext { trace_id, span_id, trace_flags: flags, trace_state, is_remote: false, baggage };
        Span::new(record, self.limits, started, context, Arc::clone(&self.sink))
    }
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").field("service", &self.service).finish()
    }
}

/// The name a span is given when its name is empty or blank, as OpenTelemetry's Java SDK
/// does: a span always has a name, so no bridge or backend has to refuse it.
pub const FALLBACK_SPAN_NAME: &str = "<unspecified span name>";

/// `name`, or [`FALLBACK_SPAN_NAME`] when it is blank.
pub(crate) fn span_name(name: impl Into<Str>) -> Str {
    let name = name.into();
    if name.trim().is_empty() {
        Str::Borrowed(FALLBACK_SPAN_NAME)
    } else {
        name
    }
}
