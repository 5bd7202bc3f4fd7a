//! Span limits: how many attributes and events a span keeps and how long its string
//! values may be, with OpenTelemetry's defaults. What is cut is counted on the record
//! (`dropped_attributes_count`, `dropped_events_count`, `truncated_values_count`).

use crate::attribute::{Attribute, Attributes};
use crate::record::{EventRecord, SpanRecord};

/// Limits applied while a span records.
///
/// ```
/// use dagnats_observe::{Attribute, Context, SpanLimits, SpanOptions, Telemetry};
///
/// let (tel, memory) = Telemetry::in_memory("docs");
/// let tracer = tel.tracer.with_limits(SpanLimits { max_attributes: 2, ..SpanLimits::default() });
/// let (_, mut span) = tracer.start(&Context::new(), "work", SpanOptions::new());
/// span.set_attributes((0..5).map(|i| Attribute::int(format!("k{i}"), i)));
/// span.end();
/// assert_eq!(memory.spans()[0].dropped_attributes_count, 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanLimits {
    /// Distinct attribute keys per span (OpenTelemetry: 128).
    pub max_attributes: usize,
    /// Events per span; beyond it the oldest event makes room (OpenTelemetry: 128).
    pub max_events: usize,
    /// Attributes per event (OpenTelemetry: 128).
    pub max_attributes_per_event: usize,
    /// Characters per string value; `None` is unlimited (OpenTelemetry's default). The
    /// collector still shortens a record that would not fit the server's max_payload.
    pub max_string_length: Option<usize>,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits { max_attributes: 128, max_events: 128, max_attributes_per_event: 128, max_string_length: None }
    }
}

impl SpanLimits {
    /// Sets an attribute on a span record within the limits.
    pub(crate) fn set_attribute(&self, record: &mut SpanRecord, mut attr: Attribute) {
        if let Some(max) = self.max_string_length {
            if attr.value.truncate(max) {
                record.truncated_values_count += 1;
            }
        }
        if !record.attributes.set_limited(attr, self.max_attributes) {
            record.dropped_attributes_count += 1;
        }
    }

    /// Adds an event to a span record within the limits.
    pub(crate) fn add_event(&self, record: &mut SpanRecord, mut event: EventRecord) {
        let mut kept = Attributes::with_capacity(event.attributes.len().min(self.max_attributes_per_event));
        for mut attr in std::mem::take(&mut event.attributes) {
            if let Some(max) = self.max_string_length {
                if attr.value.truncate(max) {
                    record.truncated_values_count += 1;
                }
            }
            if !kept.set_limited(attr, self.max_attributes_per_event) {
                event.dropped_attributes_count += 1;
            }
        }
        event.attributes = kept;
        if self.max_events == 0 {
            record.dropped_events_count += 1;
            return;
        }
        if record.events.len() >= self.max_events {
            // The newest events (an error recorded at the end, say) matter most.
            record.events.remove(0);
            record.dropped_events_count += 1;
        }
        record.events.push(event);
    }
}
