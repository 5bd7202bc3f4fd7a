//! The TELEMETRY wire records: one JSON object per NATS message.
//!
//! [`SpanRecord`], [`LogRecord`] and [`MetricPoint`] serialize exactly as the wire contract
//! says and read leniently what the Go engine writes (RFC 3339 times with offsets, numbers
//! without a fraction, unknown fields ignored). [`Record`] is what a [`Sink`](crate::Sink)
//! receives.
//!
//! ```
//! use dagnats_observe::record::SpanRecord;
//!
//! let json = r#"{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7",
//!   "name":"worker.executeTask","service":"py-worker","kind":"server",
//!   "start_time":"2026-11-24T10:30:00.123456789Z","end_time":"2026-11-24T10:30:01.357456789Z",
//!   "duration_ms":1234,"status":"ok","attributes":{"attempt":2},"future_field":[1]}"#;
//! let span: SpanRecord = serde_json::from_str(json).unwrap();
//! assert_eq!(span.duration_ms, 1234);
//! assert!(span.parent_id.is_none());
//! ```

mod log;
mod metric;
pub(crate) mod pool;
mod scope;
mod span;
mod timestamp;

pub use log::{Level, LogRecord, LOG_ERROR_ATTRIBUTE};
pub use metric::{InvalidMetricPoint, MetricKind, MetricPoint};
pub use pool::recycle;
pub use scope::{read_scope, Scope, Scoped};
pub use span::{EventRecord, LinkRecord, SpanKind, SpanRecord, StatusCode, OTLP_FLAGS_REMOTE_PARENT};
pub use timestamp::Timestamp;

/// A finished record on its way to a sink.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A finished span (boxed: spans are large and travel through queues).
    Span(Box<SpanRecord>),
    /// A log record.
    Log(Box<LogRecord>),
    /// A metric point: one observation (the record format).
    Metric(Box<MetricPoint>),
    /// One instrument's aggregation in the engine's dialect, exported periodically by
    /// instruments that aggregate in the process (the engine format, see
    /// [`crate::metrics`]): one data point, one series, cumulative.
    EngineMetric(Box<crate::engine::EngineMetric>),
}

impl Record {
    /// The span, when this is one.
    pub fn as_span(&self) -> Option<&SpanRecord> {
        match self {
            Record::Span(s) => Some(s),
            _ => None,
        }
    }
    /// The log record, when this is one.
    pub fn as_log(&self) -> Option<&LogRecord> {
        match self {
            Record::Log(l) => Some(l),
            _ => None,
        }
    }
    /// The metric point, when this is one.
    pub fn as_metric(&self) -> Option<&MetricPoint> {
        match self {
            Record::Metric(m) => Some(m),
            _ => None,
        }
    }
    /// The aggregated engine metric, when this is one.
    pub fn as_engine_metric(&self) -> Option<&crate::engine::EngineMetric> {
        match self {
            Record::EngineMetric(m) => Some(m),
            _ => None,
        }
    }
    /// The record as its wire JSON (an engine metric has only the engine's shape).
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing these types cannot fail: every map key is a string and every value
        // is a plain scalar, so the fallback is never taken.
        match self {
            Record::Span(s) => serde_json::to_vec(s),
            Record::Log(l) => serde_json::to_vec(l),
            Record::Metric(m) => serde_json::to_vec(m),
            Record::EngineMetric(m) => Ok(crate::engine::encode_metric(m)),
        }
        .unwrap_or_default()
    }
}

/// Serde helpers shared by the record types.
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};

    /// A whole number that may arrive as `1234`, `1234.0` or `1.234e3`.
    pub fn u64_from_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        if let Some(v) = n.as_u64() {
            return Ok(v);
        }
        match n.as_f64() {
            Some(f) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => Ok(f as u64),
            Some(f) if f < 0.0 => Ok(0),
            _ => Err(serde::de::Error::custom(format!("{n} is not a whole number"))),
        }
    }

    /// A string that may be absent or `null`.
    pub fn string_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
    }

    /// A list or map that the Go engine may write as `null`.
    pub fn default_on_null<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + Default,
    {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }

    pub fn is_false(b: &bool) -> bool {
        !*b
    }
}
