//! Metric instruments: counters, gauges and histograms.
//!
//! Every call publishes one [`MetricPoint`]: a counter's increment, a gauge's new level
//! or one histogram observation. The bridge aggregates them into OTLP sums, gauges and
//! histograms.
//!
//! ```
//! use dagnats_observe::Telemetry;
//!
//! let (tel, memory) = Telemetry::in_memory("docs");
//! let done = tel.metrics.counter("tasks.completed");
//! done.add(1.0, &[("queue", "default")]);
//! tel.metrics.gauge("queue.depth").set(12.0, &[]);
//! tel.metrics.histogram("task.duration_ms").record(35.5, &[("step", "build")]);
//! assert_eq!(memory.metrics().len(), 3);
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::record::{MetricKind, MetricPoint, Record, Timestamp};
use crate::sink::Sink;

/// Creates instruments for one service. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    service: Arc<str>,
    sink: Arc<dyn Sink>,
}

impl Metrics {
    /// Instruments for `service` delivering to `sink`.
    pub fn new(service: impl Into<Arc<str>>, sink: Arc<dyn Sink>) -> Self {
        Metrics { service: service.into(), sink }
    }

    fn instrument(&self, name: &str, kind: MetricKind) -> Instrument {
        Instrument { name: name.into(), kind, service: Arc::clone(&self.service), sink: Arc::clone(&self.sink) }
    }

    /// A monotonic counter.
    pub fn counter(&self, name: &str) -> Counter {
        Counter(self.instrument(name, MetricKind::Counter))
    }

    /// A gauge.
    pub fn gauge(&self, name: &str) -> Gauge {
        Gauge(self.instrument(name, MetricKind::Gauge))
    }

    /// A histogram.
    pub fn histogram(&self, name: &str) -> Histogram {
        Histogram(self.instrument(name, MetricKind::Histogram))
    }
}

#[derive(Clone)]
struct Instrument {
    name: Arc<str>,
    kind: MetricKind,
    service: Arc<str>,
    sink: Arc<dyn Sink>,
}

impl Instrument {
    fn emit(&self, value: f64, tags: &[(&str, &str)]) {
        let point = MetricPoint {
            name: self.name.to_string(),
            kind: self.kind,
            value,
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
            service: Arc::clone(&self.service),
            timestamp: Timestamp::now(),
        };
        self.sink.export(Record::Metric(Box::new(point)));
    }
}

/// A monotonic counter: each call publishes its increment.
#[derive(Clone)]
pub struct Counter(Instrument);

impl Counter {
    /// Adds `value`. A negative or non-finite increment is ignored, publishing nothing,
    /// as the OpenTelemetry SDKs ignore a negative `Counter.add`: a counter is exported as
    /// a monotonic sum, which one negative increment would break for every reader. Use a
    /// [`Gauge`] for a level that goes down.
    pub fn add(&self, value: f64, tags: &[(&str, &str)]) {
        if value >= 0.0 && value.is_finite() {
            self.0.emit(value, tags);
        }
    }
}

/// A gauge: each call publishes the new level.
#[derive(Clone)]
pub struct Gauge(Instrument);

impl Gauge {
    /// Sets the level (non-finite values are ignored: JSON cannot carry them).
    pub fn set(&self, value: f64, tags: &[(&str, &str)]) {
        if value.is_finite() {
            self.0.emit(value, tags);
        }
    }
}

/// A histogram: each call publishes one observation.
#[derive(Clone)]
pub struct Histogram(Instrument);

impl Histogram {
    /// Records one observation (non-finite values are ignored).
    pub fn record(&self, value: f64, tags: &[(&str, &str)]) {
        if value.is_finite() {
            self.0.emit(value, tags);
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("service", &self.service).finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::Telemetry;

    #[test]
    fn a_counter_publishes_no_negative_or_non_finite_increment() {
        let (tel, memory) = Telemetry::in_memory("t");
        let c = tel.metrics.counter("c");
        c.add(-1.0, &[]);
        c.add(f64::NAN, &[]);
        c.add(f64::INFINITY, &[]);
        c.add(0.0, &[]);
        c.add(2.0, &[]);
        let values: Vec<f64> = memory.metrics().iter().map(|m| m.value).collect();
        assert_eq!(values, vec![0.0, 2.0]);
        assert!(memory.metrics().iter().all(|m| m.validate().is_ok()));
    }
}
