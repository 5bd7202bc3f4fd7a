//! The metric point.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// What a metric point's value means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// The value is an increment of a monotonic counter (never negative: see
    /// [`MetricPoint::validate`]).
    Counter,
    /// The value is the new level.
    Gauge,
    /// The value is one observation of a distribution.
    Histogram,
}

impl MetricKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// A metric point as written to `telemetry.metrics.{service}.{name}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Metric name; may contain dots.
    pub name: String,
    /// Counter, gauge or histogram.
    #[serde(rename = "type")]
    pub kind: MetricKind,
    /// Increment, level or observation.
    pub value: f64,
    /// Dimensions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "super::lenient::default_on_null")]
    pub tags: BTreeMap<String, String>,
    /// Producing service.
    #[serde(default)]
    pub service: Arc<str>,
    /// When it was recorded.
    pub timestamp: Timestamp,
}

/// Why a metric point cannot be exported as what it says it is (see
/// [`MetricPoint::validate`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum InvalidMetricPoint {
    /// The name is empty: OTLP requires one.
    EmptyName,
    /// A counter increment below zero. A counter is a monotonic sum (OpenTelemetry SDKs
    /// ignore a negative `Counter.add`); an up-down quantity must be a gauge.
    NegativeIncrement(f64),
    /// A counter increment or histogram observation that is NaN or infinite, which
    /// cannot be added up.
    NotFinite(f64),
}

impl std::fmt::Display for InvalidMetricPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvalidMetricPoint::EmptyName => f.write_str("metric name is empty"),
            InvalidMetricPoint::NegativeIncrement(v) => {
                write!(
                    f,
                    "counter increment {v} is negative: a counter only grows (use a gauge for a level that goes down)"
                )
            }
            InvalidMetricPoint::NotFinite(v) => write!(f, "value {v} is not a finite number"),
        }
    }
}

impl std::error::Error for InvalidMetricPoint {}

impl MetricPoint {
    /// Checks that the point can be exported as what it says it is. The OTLP converter
    /// skips a point that fails (a counter stays a monotonic sum, whatever a producer
    /// writes); a reader that would rather keep it visible, for instance by dead-lettering
    /// it with this error as the reason, calls this first. Gauges accept any finite level;
    /// histogram observations may be negative.
    pub fn validate(&self) -> Result<(), InvalidMetricPoint> {
        if self.name.is_empty() {
            return Err(InvalidMetricPoint::EmptyName);
        }
        if !self.value.is_finite() {
            return Err(InvalidMetricPoint::NotFinite(self.value));
        }
        if self.kind == MetricKind::Counter && self.value < 0.0 {
            return Err(InvalidMetricPoint::NegativeIncrement(self.value));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(kind: MetricKind, value: f64) -> MetricPoint {
        MetricPoint {
            name: "m".into(),
            kind,
            value,
            tags: BTreeMap::new(),
            service: "s".into(),
            timestamp: Timestamp(1),
        }
    }

    #[test]
    fn validate_refuses_what_cannot_be_exported_as_it_says() {
        assert_eq!(point(MetricKind::Counter, 0.0).validate(), Ok(()));
        assert_eq!(point(MetricKind::Counter, 2.5).validate(), Ok(()));
        assert_eq!(point(MetricKind::Counter, -1.0).validate(), Err(InvalidMetricPoint::NegativeIncrement(-1.0)));
        assert_eq!(point(MetricKind::Gauge, -1.0).validate(), Ok(()));
        assert_eq!(point(MetricKind::Histogram, -1.0).validate(), Ok(()));
        assert!(matches!(point(MetricKind::Histogram, f64::NAN).validate(), Err(InvalidMetricPoint::NotFinite(_))));
        assert_eq!(
            point(MetricKind::Gauge, f64::INFINITY).validate(),
            Err(InvalidMetricPoint::NotFinite(f64::INFINITY))
        );
        let mut nameless = point(MetricKind::Gauge, 1.0);
        nameless.name.clear();
        assert_eq!(nameless.validate(), Err(InvalidMetricPoint::EmptyName));
        assert!(InvalidMetricPoint::NegativeIncrement(-1.0).to_string().contains("negative"));
    }
}
