//! Metric points as OTLP metrics.
//!
//! - A counter point is an increment. The increments of one series (same service, name
//!   and tags) in a batch are added into one point of a monotonic **delta** sum, spanning
//!   the earliest to the latest timestamp. A series that has a negative increment is
//!   sent as a non-monotonic delta sum instead (a monotonic sum cannot go down).
//! - A gauge point is a level; every point is kept, with its own time.
//! - A histogram point is one observation. The observations of one series in a batch
//!   become one delta histogram point with count, sum, min, max and bucket counts over
//!   [`DEFAULT_HISTOGRAM_BOUNDS`], the OpenTelemetry SDK's default explicit boundaries.
//!
//! Counter and histogram values that are not finite cannot be summed and are skipped.
//! Within a resource, metrics appear in the order their first point arrived.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use super::proto::common::v1::KeyValue;
use super::proto::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use super::{string_key_value, ByService, Converter};
use crate::record::{MetricKind, MetricPoint};

/// Explicit bucket boundaries of histogram points: the OpenTelemetry SDK default.
pub const DEFAULT_HISTOGRAM_BOUNDS: [f64; 15] =
    [0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0];

/// The bucket an observation falls in: bucket `i` holds `(bounds[i-1], bounds[i]]`, the
/// last one everything above the last bound.
fn bucket_index(value: f64) -> usize {
    DEFAULT_HISTOGRAM_BOUNDS.iter().position(|&b| value <= b).unwrap_or(DEFAULT_HISTOGRAM_BOUNDS.len())
}

/// The time window covered by aggregated points.
#[derive(Clone, Copy)]
struct Window {
    start: u64,
    end: u64,
}

impl Window {
    fn at(t: u64) -> Self {
        Window { start: t, end: t }
    }
    fn widen(&mut self, t: u64) {
        self.start = self.start.min(t);
        self.end = self.end.max(t);
    }
}

struct CounterSeries {
    sum: f64,
    window: Window,
}

struct HistogramSeries {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    buckets: [u64; DEFAULT_HISTOGRAM_BOUNDS.len() + 1],
    window: Window,
}

impl HistogramSeries {
    fn new(t: u64) -> Self {
        HistogramSeries {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            buckets: [0; DEFAULT_HISTOGRAM_BOUNDS.len() + 1],
            window: Window::at(t),
        }
    }
    fn observe(&mut self, value: f64, t: u64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.buckets[bucket_index(value)] += 1;
        self.window.widen(t);
    }
}

type Tags = BTreeMap<String, String>;

/// The points of one metric (one name and kind) of one service.
enum Points {
    Counter { series: Vec<(Tags, CounterSeries)>, index: HashMap<Tags, usize>, monotonic: bool },
    Gauge(Vec<NumberDataPoint>),
    Histogram { series: Vec<(Tags, HistogramSeries)>, index: HashMap<Tags, usize> },
}

/// The metrics of one service, in first-seen order.
#[derive(Default)]
struct ServiceMetrics {
    metrics: Vec<(String, Points)>,
    index: HashMap<(String, MetricKind), usize>,
}

impl ServiceMetrics {
    fn add(&mut self, p: MetricPoint) {
        let t = p.timestamp.unix_nanos();
        if p.kind != MetricKind::Gauge && !p.value.is_finite() {
            return;
        }
        let slot = match self.index.get(&(p.name.clone(), p.kind)) {
            Some(&i) => i,
            None => {
                let points = match p.kind {
                    MetricKind::Counter => Points::Counter { series: Vec::new(), index: HashMap::new(), monotonic: true },
                    MetricKind::Gauge => Points::Gauge(Vec::new()),
                    MetricKind::Histogram => Points::Histogram { series: Vec::new(), index: HashMap::new() },
                };
                self.index.insert((p.name.clone(), p.kind), self.metrics.len());
                self.metrics.push((p.name, points));
                self.metrics.len() - 1
            }
        };
        match &mut self.metrics[slot].1 {
            Points::Counter { series, index, monotonic } => {
                *monotonic &= p.value >= 0.0;
                let i = *index.entry(p.tags).or_insert_with_key(|tags| {
                    series.push((tags.clone(), CounterSeries { sum: 0.0, window: Window::at(t) }));
                    series.len() - 1
                });
                let s = &mut series[i].1;
                s.sum += p.value;
                s.window.widen(t);
            }
            Points::Gauge(points) => points.push(NumberDataPoint {
                attributes: tag_attributes(p.tags),
                start_time_unix_nano: 0,
                time_unix_nano: t,
                value: Some(number_data_point::Value::AsDouble(p.value)),
                ..Default::default()
            }),
            Points::Histogram { series, index } => {
                let i = *index.entry(p.tags).or_insert_with_key(|tags| {
                    series.push((tags.clone(), HistogramSeries::new(t)));
                    series.len() - 1
                });
                series[i].1.observe(p.value, t);
            }
        }
    }

    fn into_metrics(self) -> Vec<Metric> {
        self.metrics.into_iter().map(|(name, points)| Metric { name, data: Some(data(points)), ..Default::default() }).collect()
    }
}

fn tag_attributes(tags: Tags) -> Vec<KeyValue> {
    tags.into_iter().map(|(k, v)| string_key_value(&k, v)).collect()
}

fn data(points: Points) -> metric::Data {
    let delta = AggregationTemporality::Delta as i32;
    match points {
        Points::Counter { series, monotonic, .. } => metric::Data::Sum(Sum {
            data_points: series
                .into_iter()
                .map(|(tags, s)| NumberDataPoint {
                    attributes: tag_attributes(tags),
                    start_time_unix_nano: s.window.start,
                    time_unix_nano: s.window.end,
                    value: Some(number_data_point::Value::AsDouble(s.sum)),
                    ..Default::default()
                })
                .collect(),
            aggregation_temporality: delta,
            is_monotonic: monotonic,
        }),
        Points::Gauge(data_points) => metric::Data::Gauge(Gauge { data_points }),
        Points::Histogram { series, .. } => metric::Data::Histogram(Histogram {
            data_points: series
                .into_iter()
                .map(|(tags, h)| HistogramDataPoint {
                    attributes: tag_attributes(tags),
                    start_time_unix_nano: h.window.start,
                    time_unix_nano: h.window.end,
                    count: h.count,
                    sum: Some(h.sum),
                    bucket_counts: h.buckets.to_vec(),
                    explicit_bounds: DEFAULT_HISTOGRAM_BOUNDS.to_vec(),
                    min: Some(h.min),
                    max: Some(h.max),
                    ..Default::default()
                })
                .collect(),
            aggregation_temporality: delta,
        }),
    }
}

pub(super) fn convert(c: &Converter, points: impl IntoIterator<Item = MetricPoint>) -> ExportMetricsServiceRequest {
    let mut groups: ByService<ServiceMetrics> = ByService::new();
    for p in points {
        let service: Arc<str> = c.service_of(&p.service);
        groups.entry(service, ServiceMetrics::default).add(p);
    }
    ExportMetricsServiceRequest {
        resource_metrics: groups
            .into_groups()
            .map(|(service, metrics)| ResourceMetrics {
                resource: Some(c.resource(&service)),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(c.scope.clone()),
                    metrics: metrics.into_metrics(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Timestamp;

    fn point(name: &str, kind: MetricKind, value: f64, tags: &[(&str, &str)], service: &str, t: u64) -> MetricPoint {
        MetricPoint {
            name: name.into(),
            kind,
            value,
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            service: service.into(),
            timestamp: Timestamp(t),
        }
    }

    fn metrics_of(req: &ExportMetricsServiceRequest, resource: usize) -> &[Metric] {
        &req.resource_metrics[resource].scope_metrics[0].metrics
    }

    #[test]
    fn counter_increments_of_one_series_add_up_into_a_monotonic_delta_sum() {
        let c = Converter::new("dagnats", "b", "1");
        let req = c.metrics([
            point("tasks", MetricKind::Counter, 1.0, &[("q", "a")], "engine", 30),
            point("tasks", MetricKind::Counter, 2.0, &[("q", "b")], "engine", 10),
            point("tasks", MetricKind::Counter, 4.0, &[("q", "a")], "engine", 20),
        ]);
        let m = &metrics_of(&req, 0)[0];
        let Some(metric::Data::Sum(sum)) = &m.data else { panic!("not a sum: {m:?}") };
        assert!(sum.is_monotonic);
        assert_eq!(sum.aggregation_temporality, AggregationTemporality::Delta as i32);
        assert_eq!(sum.data_points.len(), 2);
        let a = &sum.data_points[0];
        assert_eq!(a.value, Some(number_data_point::Value::AsDouble(5.0)));
        assert_eq!((a.start_time_unix_nano, a.time_unix_nano), (20, 30));
        assert_eq!(a.attributes, vec![string_key_value("q", "a".into())]);
        assert_eq!(sum.data_points[1].value, Some(number_data_point::Value::AsDouble(2.0)));
    }

    #[test]
    fn a_negative_increment_makes_the_sum_non_monotonic() {
        let c = Converter::new("dagnats", "b", "1");
        let req = c.metrics([
            point("level", MetricKind::Counter, 3.0, &[], "s", 1),
            point("level", MetricKind::Counter, -1.0, &[], "s", 2),
        ]);
        let Some(metric::Data::Sum(sum)) = &metrics_of(&req, 0)[0].data else { panic!() };
        assert!(!sum.is_monotonic);
        assert_eq!(sum.data_points[0].value, Some(number_data_point::Value::AsDouble(2.0)));
    }

    #[test]
    fn gauges_keep_every_point() {
        let c = Converter::new("dagnats", "b", "1");
        let req = c.metrics([
            point("queue.depth", MetricKind::Gauge, 3.0, &[], "s", 1),
            point("queue.depth", MetricKind::Gauge, 7.0, &[], "s", 2),
        ]);
        let Some(metric::Data::Gauge(g)) = &metrics_of(&req, 0)[0].data else { panic!() };
        let values: Vec<_> = g.data_points.iter().map(|p| (p.value, p.time_unix_nano)).collect();
        assert_eq!(
            values,
            vec![(Some(number_data_point::Value::AsDouble(3.0)), 1), (Some(number_data_point::Value::AsDouble(7.0)), 2)]
        );
    }

    #[test]
    fn histogram_observations_of_one_series_become_one_point() {
        let c = Converter::new("dagnats", "b", "1");
        let values = [0.0, 3.0, 5.0, 5.5, 120.0, 20000.0];
        let mut points: Vec<_> =
            values.iter().enumerate().map(|(i, v)| point("dur", MetricKind::Histogram, *v, &[("step", "build")], "w", 100 + i as u64)).collect();
        points.push(point("dur", MetricKind::Histogram, 1.0, &[("step", "test")], "w", 50));
        points.push(point("dur", MetricKind::Histogram, f64::NAN, &[("step", "build")], "w", 60));
        let req = c.metrics(points);
        let Some(metric::Data::Histogram(h)) = &metrics_of(&req, 0)[0].data else { panic!() };
        assert_eq!(h.aggregation_temporality, AggregationTemporality::Delta as i32);
        assert_eq!(h.data_points.len(), 2);
        let p = &h.data_points[0];
        assert_eq!(p.count, 6);
        assert_eq!(p.sum, Some(values.iter().sum()));
        assert_eq!((p.min, p.max), (Some(0.0), Some(20000.0)));
        assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (100, 105));
        assert_eq!(p.explicit_bounds, DEFAULT_HISTOGRAM_BOUNDS.to_vec());
        let mut expected = vec![0u64; 16];
        expected[0] = 1; // 0.0 <= 0
        expected[1] = 2; // 3.0 and 5.0 in (0, 5]
        expected[2] = 1; // 5.5 in (5, 10]
        expected[7] = 1; // 120 in (100, 250]
        expected[15] = 1; // above 10000
        assert_eq!(p.bucket_counts, expected);
        assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
        assert_eq!(h.data_points[1].count, 1);
    }

    #[test]
    fn services_and_kinds_stay_apart() {
        let c = Converter::new("dagnats", "b", "1");
        let req = c.metrics([
            point("m", MetricKind::Counter, 1.0, &[], "a", 1),
            point("m", MetricKind::Gauge, 1.0, &[], "a", 1),
            point("m", MetricKind::Counter, 1.0, &[], "", 1),
        ]);
        assert_eq!(req.resource_metrics.len(), 2);
        assert_eq!(metrics_of(&req, 0).len(), 2);
        let fallback = &req.resource_metrics[1].resource.as_ref().unwrap().attributes[0];
        assert_eq!(fallback, &string_key_value("service.name", "dagnats".into()));
    }

    #[test]
    fn the_go_golden_metrics_convert() {
        let c = Converter::new("dagnats", "b", "1");
        let counter: MetricPoint = serde_json::from_str(include_str!("../../../testdata/records/go-metric.json")).unwrap();
        let hist: MetricPoint = serde_json::from_str(include_str!("../../../testdata/records/ours-metric.json")).unwrap();
        let req = c.metrics([counter, hist]);
        assert_eq!(metrics_of(&req, 0)[0].name, "dagnats.tasks.completed");
        assert!(matches!(metrics_of(&req, 1)[0].data, Some(metric::Data::Histogram(_))));
    }
}
