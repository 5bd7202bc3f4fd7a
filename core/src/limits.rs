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
    /// OpenTelemetry's environment variables over the defaults, as every OpenTelemetry
    /// SDK reads them, so that a worker in any language is configured the same way:
    /// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` (else `OTEL_ATTRIBUTE_COUNT_LIMIT`),
    /// `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, and
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` (else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`).
    /// A value that is not a non-negative integer is ignored with a warning. Every
    /// [`Telemetry`](crate::Telemetry) starts with these limits.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over any lookup of variables.
    ///
    /// ```
    /// use dagnats_observe::SpanLimits;
    ///
    /// let limits = SpanLimits::from_vars(|name| match name {
    ///     "OTEL_ATTRIBUTE_COUNT_LIMIT" => Some("16".into()),
    ///     "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT" => Some("256".into()),
    ///     "OTEL_SPAN_EVENT_COUNT_LIMIT" => Some("many".into()), // ignored, with a warning
    ///     _ => None,
    /// });
    /// assert_eq!(limits.max_attributes, 16);
    /// assert_eq!(limits.max_string_length, Some(256));
    /// assert_eq!(limits.max_events, 128);
    /// ```
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let number = |names: &[&str]| -> Option<usize> {
            names.iter().find_map(|name| {
                let value = var(name)?;
                let value = value.trim();
                if value.is_empty() {
                    return None;
                }
                match value.parse::<usize>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        tracing::warn!(variable = name, value, "not a non-negative integer; the default limit applies");
                        None
                    }
                }
            })
        };
        let defaults = SpanLimits::default();
        SpanLimits {
            max_attributes: number(&["OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"])
                .unwrap_or(defaults.max_attributes),
            max_events: number(&["OTEL_SPAN_EVENT_COUNT_LIMIT"]).unwrap_or(defaults.max_events),
            max_attributes_per_event: number(&["OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT"])
                .unwrap_or(defaults.max_attributes_per_event),
            max_string_length: number(&["OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"])
                .or(defaults.max_string_length),
        }
    }

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
