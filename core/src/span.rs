//! A span: one timed unit of work.
//!
//! A [`Span`] records attributes, events, a status and errors while the work runs, and
//! hands its finished [`SpanRecord`] to the sink when it ends. Instrumenting never fails:
//! every call on an ended span is a harmless no-op, and ending twice does nothing.
//! Dropping a span that was not ended ends it, so an early `return` or `?` loses nothing.
//!
//! ```
//! use dagnats_observe::{Attribute, Context, SpanOptions, StatusCode, Telemetry};
//!
//! let (tel, memory) = Telemetry::in_memory("docs");
//! let (_cx, mut span) = tel.tracer.start(&Context::new(), "step", SpanOptions::new());
//! span.set_attribute(Attribute::int("attempt", 2));
//! span.add_event("cache.miss", []);
//! span.set_status(StatusCode::Ok, "");
//! span.end();
//! span.end(); // does nothing
//! assert_eq!(memory.spans().len(), 1);
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::attribute::{Attribute, Attributes, Str};
use crate::limits::SpanLimits;
use crate::propagation::SpanContext;
use crate::record::{EventRecord, Record, SpanRecord, StatusCode};
use crate::sink::Sink;

/// A span being recorded. Created by [`Tracer::start`](crate::Tracer::start).
#[must_use = "a span records nothing useful unless it lives as long as the work it times"]
pub struct Span {
    /// `None` once ended.
    record: Option<Box<SpanRecord>>,
    limits: SpanLimits,
    started: Instant,
    context: SpanContext,
    sink: Arc<dyn Sink>,
}

impl Span {
    pub(crate) fn new(
        record: Box<SpanRecord>,
        limits: SpanLimits,
        started: Instant,
        context: SpanContext,
        sink: Arc<dyn Sink>,
    ) -> Self {
        Span { record: Some(record), limits, started, context, sink }
    }

    /// The span's identity, to propagate or to parent other spans.
    pub fn span_context(&self) -> &SpanContext {
        &self.context
    }

    /// The trace id as 32 lowercase hex characters.
    pub fn trace_id(&self) -> String {
        self.context.trace_id.to_string()
    }

    /// The span id as 16 lowercase hex characters.
    pub fn span_id(&self) -> String {
        self.context.span_id.to_string()
    }

    /// The `traceparent` header value for the next hop.
    pub fn traceparent(&self) -> String {
        self.context.traceparent()
    }

    /// True until the span ends.
    pub fn is_recording(&self) -> bool {
        self.record.is_some()
    }

    /// Sets one attribute, replacing an earlier value of the same key.
    pub fn set_attribute(&mut self, attribute: Attribute) {
        if let Some(r) = self.record.as_mut() {
            self.limits.set_attribute(r, attribute);
        }
    }

    /// Sets several attributes.
    pub fn set_attributes(&mut self, attributes: impl IntoIterator<Item = Attribute>) {
        if let Some(r) = self.record.as_mut() {
            for attribute in attributes {
                self.limits.set_attribute(r, attribute);
            }
        }
    }

    /// Sets the status, following OpenTelemetry's rules: `Unset` never overrides a status,
    /// and `Ok` is final. The description is kept in the record's `status_message`.
    /// Setting `Ok` after an error clears the record's `error` text (the `exception`
    /// event keeps the message), so that no reader shows the span as failed.
    pub fn set_status(&mut self, code: StatusCode, description: impl Into<String>) {
        let Some(r) = self.record.as_mut() else { return };
        match (r.status, code) {
            (_, StatusCode::Unset) | (StatusCode::Ok, _) => {}
            _ => {
                r.status = code;
                r.status_message = description.into();
                // A span that ends Ok must not read as failed: an error recorded earlier
                // stays in its exception event, not in the record's error text.
                if code == StatusCode::Ok {
                    r.error.clear();
                }
            }
        }
    }

    /// Records an error: an `exception` event carrying `exception.message`, and, unless
    /// the status is already `Ok`, the error status with the message in the record's
    /// `error` (and in `status_message` when no description was set).
    ///
    /// OpenTelemetry makes `Ok` final: code that declared success has the last word, so
    /// an error recorded after (or by a library under) an `Ok` span is kept as its event
    /// only. The record's `error` then stays empty, because readers (the engine, the
    /// bridge, the trace command) show a span with an `error` text as failed.
    pub fn record_error(&mut self, message: impl fmt::Display) {
        self.record_exception(message.to_string(), None);
    }

    /// Like [`record_error`](Self::record_error), with the exception's type name (for
    /// example a Python class) in `exception.type`. An empty message (Python's
    /// `raise KeyError()`, JavaScript's `new Error()`) is replaced by the type name, so
    /// that the status and the record's `error` still say what failed.
    pub fn record_exception(&mut self, message: String, type_name: Option<String>) {
        let Some(r) = self.record.as_mut() else { return };
        let message = match &type_name {
            Some(t) if message.is_empty() => t.clone(),
            _ => message,
        };
        let time = r.start_time.saturating_add(self.started.elapsed());
        let mut attributes = Attributes::with_capacity(2);
        if let Some(t) = type_name {
            attributes.set(Attribute::string("exception.type", t));
        }
        attributes.set(Attribute::string("exception.message", message.clone()));
        self.limits.add_event(
            r,
            EventRecord { name: Str::Borrowed("exception"), time, attributes, dropped_attributes_count: 0 },
        );
        if r.status == StatusCode::Ok {
            return;
        }
        r.status = StatusCode::Error;
        if r.status_message.is_empty() {
            r.status_message = message.clone();
        }
        r.error = message;
    }

    /// Adds a timestamped event.
    pub fn add_event(&mut self, name: impl Into<Str>, attributes: impl IntoIterator<Item = Attribute>) {
        let Some(r) = self.record.as_mut() else { return };
        let time = r.start_time.saturating_add(self.started.elapsed());
        let event = EventRecord {
            name: name.into(),
            time,
            attributes: attributes.into_iter().collect(),
            dropped_attributes_count: 0,
        };
        self.limits.add_event(r, event);
    }

    /// Renames the span (a blank name becomes [`FALLBACK_SPAN_NAME`](crate::FALLBACK_SPAN_NAME)).
    pub fn update_name(&mut self, name: impl Into<Str>) {
        if let Some(r) = self.record.as_mut() {
            r.name = crate::tracer::span_name(name);
        }
    }

    /// Ends the span and hands its record to the sink. Never blocks on the network.
    /// A second call does nothing.
    pub fn end(&mut self) {
        let Some(mut r) = self.record.take() else { return };
        let elapsed = self.started.elapsed();
        r.end_time = r.start_time.saturating_add(elapsed);
        r.duration_ms = elapsed.as_millis() as u64;
        self.sink.export(Record::Span(r));
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        self.end();
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("trace_id", &self.context.trace_id)
            .field("span_id", &self.context.span_id)
            .field("name", &self.record.as_ref().map(|r| r.name.as_ref()))
            .field("recording", &self.is_recording())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Context, SpanOptions, StatusCode, Telemetry};

    #[test]
    fn an_error_after_ok_keeps_the_event_but_not_the_failure() {
        let (tel, memory) = Telemetry::in_memory("t");
        let (_, mut span) = tel.tracer.start(&Context::new(), "work", SpanOptions::new());
        span.set_status(StatusCode::Ok, "");
        span.record_error("late cleanup failed");
        span.record_exception("and another".into(), Some("IOError".into()));
        span.end();
        let r = &memory.spans()[0];
        assert_eq!(r.status, StatusCode::Ok, "Ok is final");
        assert_eq!(r.error, "", "no error text on a span whose final status is Ok");
        assert_eq!(r.status_message, "");
        let messages: Vec<_> = r
            .events
            .iter()
            .filter(|e| e.name == "exception")
            .map(|e| e.attributes.get("exception.message").and_then(|v| v.as_str()).unwrap_or_default().to_owned())
            .collect();
        assert_eq!(messages, vec!["late cleanup failed", "and another"]);
    }

    #[test]
    fn an_error_before_ok_still_fails_the_span() {
        let (tel, memory) = Telemetry::in_memory("t");
        let (_, mut span) = tel.tracer.start(&Context::new(), "work", SpanOptions::new());
        span.record_error("disk full");
        span.set_status(StatusCode::Ok, "");
        span.end();
        let r = &memory.spans()[0];
        // Error is not final: OpenTelemetry lets a later Ok override it. The event stays
        // (it did happen); the error text goes, or readers would show a failure.
        assert_eq!(r.status, StatusCode::Ok);
        assert_eq!((r.error.as_str(), r.status_message.as_str()), ("", ""));
        assert_eq!(r.events.len(), 1);
    }
}
