//! The metric point.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// What a metric point's value means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// The value is an increment of a monotonic counter.
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
