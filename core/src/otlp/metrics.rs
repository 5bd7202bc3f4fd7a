//! Metric points as OTLP metrics, following the OpenTelemetry metrics data model.
//!
//! - A counter point is an increment. The increments of one series (same service,
//!   scope, name and tags) in a batch are added into one point of a **monotonic delta sum**. A counter
//!   is always a monotonic sum, in every export: an increment that is negative or not
//!   finite is skipped (as the OpenTelemetry SDKs ignore a negative `Counter.add`), so it
//!   can never flip the metric to non-monotonic. A bridge that would rather dead-letter
//!   such a point than drop it checks [`MetricPoint::validate`] when decoding.
//! - A gauge point is a level; every point is kept, with its own time.
//! - A histogram point is one observation. The observations of one series in a batch
//!   become one **delta histogram** point with count, sum, min, max and bucket counts over
//!   [`DEFAULT_HISTOGRAM_BOUNDS`], the OpenTelemetry SDK's default explicit boundaries.
//!   Observations that are not finite are skipped.
//!
//! ## Time windows of delta points
//!
//! A delta point says "this much happened between its start and its time". Backends and
//! the Collector's delta-to-cumulative processing require, per series, windows that are
//! not empty, do not overlap, and follow each other. Batches of one series are converted
//! by several bridge workers at once, each holding points from several producers, so a
//! batch's own first and last point cannot be the window (one increment would give an
//! empty window; two concurrent batches, overlapping ones). Instead the [`Converter`]
//! remembers where the last window of each series ended, shared by all its clones and
//! all threads, and each converted batch claims the next window under a lock:
//!
//! - the first window of a series starts at its earliest point in that batch;
//! - every later window starts exactly where the previous one ended;
//! - a window ends at the batch's latest point, or 1 ns after its start when that point
//!   is not later (a single point, or points older than the previous window: a late
//!   point is counted in the next window rather than rewriting one already sent).
//!
//! Sorted by start, the windows of a series therefore touch end to start. Which batch
//! claims first depends on the workers' timing, so windows cover the points of the
//! batches in the order they were converted, not strictly the points' own times; totals
//! are exact. A batch whose export is finally given up on leaves a gap (a gap is allowed;
//! an overlap is not).
//!
//! The remembered ends are bounded ([`DEFAULT_MAX_SERIES`] series by default, see
//! [`Converter::with_series_limits`]): when a new series would exceed the bound, series
//! idle for longer than the idle time (by the converting clock, not by point times) are
//! forgotten first, then the least recently converted tenth. A forgotten series that
//! comes back starts afresh at its earliest new point, as a restarted producer would.
//!
//! Within a resource, metrics appear in the order their first point arrived.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use super::proto::common::v1::KeyValue;
use super::proto::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use super::{string_key_value, ByService, Converter};
use crate::record::{MetricKind, MetricPoint, Scope, Scoped};

/// Explicit bucket boundaries of histogram points: the OpenTelemetry SDK default.
pub use crate::metrics::DEFAULT_HISTOGRAM_BOUNDS;

/// Series whose last window a converter remembers, at most, by default (about 100 bytes
/// plus the names and tags each).
pub const DEFAULT_MAX_SERIES: usize = 100_000;

/// A series not converted for this long is forgotten first when room is needed.
pub const DEFAULT_SERIES_IDLE: Duration = Duration::from_secs(60 * 60);

use crate::metrics::bucket_index;

/// The earliest and latest point of a series in one batch.
#[derive(Clone, Copy)]
struct Extent {
    first: u64,
    last: u64,
}

impl Extent {
    fn at(t: u64) -> Self {
        Extent { first: t, last: t }
    }
    fn widen(&mut self, t: u64) {
        self.first = self.first.min(t);
        self.last = self.last.max(t);
    }
}

/// A claimed delta window, `(start, end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    start: u64,
    end: u64,
}

type Tags = BTreeMap<String, String>;

/// What identifies a series across batches.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SeriesKey {
    service: Arc<str>,
    scope: Option<Scope>,
    name: String,
    kind: MetricKind,
    tags: Tags,
}

/// The resource and scope the metrics of one [`ServiceMetrics`] belong to.
#[derive(Clone, Copy)]
struct SeriesOf<'a> {
    service: &'a Arc<str>,
    scope: Option<&'a Scope>,
}

struct SeriesEnd {
    /// Where the series' last window ended.
    end: u64,
    /// When a batch of it was last converted.
    touched: Instant,
}

/// The end of the last window of each delta series, shared by a converter's clones.
pub(crate) struct SeriesWindows {
    series: Mutex<HashMap<SeriesKey, SeriesEnd>>,
    max_series: usize,
    idle: Duration,
}

impl fmt::Debug for SeriesWindows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeriesWindows")
            .field("series", &self.len())
            .field("max_series", &self.max_series)
            .field("idle", &self.idle)
            .finish()
    }
}

impl Default for SeriesWindows {
    fn default() -> Self {
        SeriesWindows::new(DEFAULT_MAX_SERIES, DEFAULT_SERIES_IDLE)
    }
}

impl SeriesWindows {
    pub(crate) fn new(max_series: usize, idle: Duration) -> Self {
        SeriesWindows { series: Mutex::new(HashMap::new()), max_series: max_series.max(1), idle }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    // A panic while the lock was held (the bridge converts under catch_unwind) leaves
    // every entry whole: each is written in one assignment, so the map stays usable.
    fn lock(&self) -> MutexGuard<'_, HashMap<SeriesKey, SeriesEnd>> {
        self.series.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Claims the next window of `key`, whose points in this batch span `span`.
fn claim(
    windows: &SeriesWindows,
    map: &mut HashMap<SeriesKey, SeriesEnd>,
    key: &SeriesKey,
    span: Extent,
    now: Instant,
) -> Window {
    let previous = map.get(key).map(|s| s.end);
    // Capped so that start + 1 exists: a time of u64::MAX ns (year 2554) cannot be a
    // start.
    let start = previous.unwrap_or(span.first).min(u64::MAX - 1);
    let end = span.last.max(start + 1);
    match map.get_mut(key) {
        Some(s) => *s = SeriesEnd { end, touched: now },
        None => {
            make_room(windows, map, now);
            map.insert(key.clone(), SeriesEnd { end, touched: now });
        }
    }
    Window { start, end }
}

/// Makes room for one more series when the map is full: idle series go first, then the
/// least recently converted tenth (a tenth, so that a flood of new series pays for one
/// scan per many insertions rather than per insertion).
fn make_room(windows: &SeriesWindows, map: &mut HashMap<SeriesKey, SeriesEnd>, now: Instant) {
    if map.len() < windows.max_series {
        return;
    }
    map.retain(|_, s| now.saturating_duration_since(s.touched) < windows.idle);
    if map.len() < windows.max_series {
        return;
    }
    let mut touched: Vec<Instant> = map.values().map(|s| s.touched).collect();
    let n = (windows.max_series / 10).clamp(1, touched.len());
    let (_, cutoff, _) = touched.select_nth_unstable(n - 1);
    let cutoff = *cutoff;
    map.retain(|_, s| s.touched > cutoff);
}

struct CounterSeries {
    sum: f64,
    span: Extent,
}

struct HistogramSeries {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    buckets: [u64; DEFAULT_HISTOGRAM_BOUNDS.len() + 1],
    span: Extent,
}

impl HistogramSeries {
    fn new(t: u64) -> Self {
        HistogramSeries {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            buckets: [0; DEFAULT_HISTOGRAM_BOUNDS.len() + 1],
            span: Extent::at(t),
        }
    }
    fn observe(&mut self, value: f64, t: u64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.buckets[bucket_index(value)] += 1;
        self.span.widen(t);
    }
}

/// The points of one metric (one name and kind) of one service.
enum Points {
    Counter { series: Vec<(Tags, CounterSeries)>, index: HashMap<Tags, usize> },
    Gauge(Vec<NumberDataPoint>),
    Histogram { series: Vec<(Tags, HistogramSeries)>, index: HashMap<Tags, usize> },
}

/// The metrics of one service and scope, in first-seen order.
#[derive(Default)]
struct ServiceMetrics {
    metrics: Vec<(String, MetricKind, Points)>,
    index: HashMap<(String, MetricKind), usize>,
}

impl ServiceMetrics {
    fn add(&mut self, p: MetricPoint) {
        let t = p.timestamp.unix_nanos();
        let usable = match p.kind {
            // A counter only grows: see the module documentation.
            MetricKind::Counter => p.value >= 0.0 && p.value.is_finite(),
            MetricKind::Histogram => p.value.is_finite(),
            MetricKind::Gauge => true,
        };
        if !usable {
            return;
        }
        let slot = match self.index.get(&(p.name.clone(), p.kind)) {
            Some(&i) => i,
            None => {
                let points = match p.kind {
                    MetricKind::Counter => Points::Counter { series: Vec::new(), index: HashMap::new() },
                    MetricKind::Gauge => Points::Gauge(Vec::new()),
                    MetricKind::Histogram => Points::Histogram { series: Vec::new(), index: HashMap::new() },
                };
                self.index.insert((p.name.clone(), p.kind), self.metrics.len());
                self.metrics.push((p.name, p.kind, points));
                self.metrics.len() - 1
            }
        };
        match &mut self.metrics[slot].2 {
            Points::Counter { series, index } => {
                let i = *index.entry(p.tags).or_insert_with_key(|tags| {
                    series.push((tags.clone(), CounterSeries { sum: 0.0, span: Extent::at(t) }));
                    series.len() - 1
                });
                let s = &mut series[i].1;
                s.sum += p.value;
                s.span.widen(t);
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

    /// The OTLP metrics, each delta point with the window it claims in `windows`.
    fn into_metrics(
        self,
        of: SeriesOf<'_>,
        windows: &SeriesWindows,
        map: &mut HashMap<SeriesKey, SeriesEnd>,
        now: Instant,
    ) -> Vec<Metric> {
        self.metrics
            .into_iter()
            .map(|(name, kind, points)| {
                let mut window = |tags: &Tags, span: Extent| {
                    let key = SeriesKey {
                        service: Arc::clone(of.service),
                        scope: of.scope.cloned(),
                        name: name.clone(),
                        kind,
                        tags: tags.clone(),
                    };
                    claim(windows, map, &key, span, now)
                };
                let data = data(points, &mut window);
                Metric { name, data: Some(data), ..Default::default() }
            })
            .collect()
    }
}

fn tag_attributes(tags: Tags) -> Vec<KeyValue> {
    tags.into_iter().map(|(k, v)| string_key_value(&k, v)).collect()
}

fn data(points: Points, window: &mut impl FnMut(&Tags, Extent) -> Window) -> metric::Data {
    let delta = AggregationTemporality::Delta as i32;
    match points {
        Points::Counter { series, .. } => metric::Data::Sum(Sum {
            data_points: series
                .into_iter()
                .map(|(tags, s)| {
                    let w = window(&tags, s.span);
                    NumberDataPoint {
                        attributes: tag_attributes(tags),
                        start_time_unix_nano: w.start,
                        time_unix_nano: w.end,
                        value: Some(number_data_point::Value::AsDouble(s.sum)),
                        ..Default::default()
                    }
                })
                .collect(),
            aggregation_temporality: delta,
            is_monotonic: true,
        }),
        Points::Gauge(data_points) => metric::Data::Gauge(Gauge { data_points }),
        Points::Histogram { series, .. } => metric::Data::Histogram(Histogram {
            data_points: series
                .into_iter()
                .map(|(tags, h)| {
                    let w = window(&tags, h.span);
                    HistogramDataPoint {
                        attributes: tag_attributes(tags),
                        start_time_unix_nano: w.start,
                        time_unix_nano: w.end,
                        count: h.count,
                        sum: Some(h.sum),
                        bucket_counts: h.buckets.to_vec(),
                        explicit_bounds: DEFAULT_HISTOGRAM_BOUNDS.to_vec(),
                        min: Some(h.min),
                        max: Some(h.max),
                        ..Default::default()
                    }
                })
                .collect(),
            aggregation_temporality: delta,
        }),
    }
}

pub(super) fn convert(
    c: &Converter,
    points: impl IntoIterator<Item = Scoped<MetricPoint>>,
) -> ExportMetricsServiceRequest {
    let mut groups: ByService<ServiceMetrics> = ByService::new();
    for Scoped { record, scope } in points {
        let service: Arc<str> = c.service_of(&record.service);
        groups.entry(service, scope, ServiceMetrics::default).add(record);
    }
    let now = Instant::now();
    // One lock per batch: the windows of all its series are claimed together, so two
    // batches converted at once each get whole, consecutive windows.
    let windows = &c.windows;
    let mut map = windows.lock();
    ExportMetricsServiceRequest {
        resource_metrics: groups
            .into_groups()
            .map(|(service, scopes)| ResourceMetrics {
                resource: Some(c.resource(&service)),
                scope_metrics: scopes
                    .into_iter()
                    .map(|(scope, metrics)| {
                        let series_of = SeriesOf { service: &service, scope: scope.as_ref() };
                        ScopeMetrics {
                            metrics: metrics.into_metrics(series_of, windows, &mut map, now),
                            scope: Some(c.otlp_scope(scope)),
                            schema_url: String::new(),
                        }
                    })
                    .collect(),
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

    fn sum_of(req: &ExportMetricsServiceRequest) -> &Sum {
        match &metrics_of(req, 0)[0].data {
            Some(metric::Data::Sum(sum)) => sum,
            other => panic!("not a sum: {other:?}"),
        }
    }

    fn window(p: &NumberDataPoint) -> (u64, u64) {
        (p.start_time_unix_nano, p.time_unix_nano)
    }

    #[test]
    fn a_negative_or_infinite_increment_is_skipped_and_the_sum_stays_monotonic() {
        let c = Converter::new("dagnats", "b", "1");
        let req = c.metrics([
            point("level", MetricKind::Counter, 3.0, &[], "s", 1),
            point("level", MetricKind::Counter, -1.0, &[], "s", 2),
            point("level", MetricKind::Counter, f64::INFINITY, &[], "s", 3),
        ]);
        let sum = sum_of(&req);
        assert!(sum.is_monotonic);
        assert_eq!(sum.data_points[0].value, Some(number_data_point::Value::AsDouble(3.0)));
        // A batch of only a negative increment exports nothing for it, and the next batch
        // is monotonic too.
        let req = c.metrics([point("level", MetricKind::Counter, -5.0, &[], "s", 4)]);
        assert!(req.resource_metrics[0].scope_metrics[0].metrics.is_empty());
        assert!(sum_of(&c.metrics([point("level", MetricKind::Counter, 1.0, &[], "s", 5)])).is_monotonic);
    }

    #[test]
    fn a_single_increment_gets_a_window_that_is_not_empty() {
        let c = Converter::new("dagnats", "b", "1");
        let req = c.metrics([point("once", MetricKind::Counter, 1.0, &[], "s", 1_000)]);
        assert_eq!(window(&sum_of(&req).data_points[0]), (1_000, 1_001));
    }

    #[test]
    fn windows_of_a_series_follow_each_other_across_batches() {
        let c = Converter::new("dagnats", "b", "1");
        let batch = |points: &[(f64, u64)]| {
            let req =
                c.metrics(points.iter().map(|&(v, t)| point("jobs", MetricKind::Counter, v, &[("q", "a")], "s", t)));
            let p = &sum_of(&req).data_points[0];
            (window(p), p.value)
        };
        assert_eq!(batch(&[(1.0, 100), (1.0, 150)]).0, (100, 150), "the first window: earliest to latest point");
        assert_eq!(batch(&[(1.0, 170), (2.0, 200)]).0, (150, 200), "then from the previous end");
        // Late points (older than the previous end) count in the next window, 1 ns wide.
        let (w, v) = batch(&[(4.0, 120)]);
        assert_eq!((w, v), ((200, 201), Some(number_data_point::Value::AsDouble(4.0))));
        assert_eq!(batch(&[(1.0, 300)]).0, (201, 300));
    }

    #[test]
    fn histograms_get_consecutive_windows_too_and_gauges_keep_their_times() {
        let c = Converter::new("dagnats", "b", "1");
        let batch = |t: u64| {
            let req = c.metrics([
                point("dur", MetricKind::Histogram, 1.0, &[], "s", t),
                point("depth", MetricKind::Gauge, 1.0, &[], "s", t),
            ]);
            let ms = metrics_of(&req, 0);
            let Some(metric::Data::Histogram(h)) = &ms[0].data else { panic!() };
            let Some(metric::Data::Gauge(g)) = &ms[1].data else { panic!() };
            ((h.data_points[0].start_time_unix_nano, h.data_points[0].time_unix_nano), window(&g.data_points[0]))
        };
        assert_eq!(batch(10), ((10, 11), (0, 10)));
        assert_eq!(batch(50), ((11, 50), (0, 50)));
        assert_eq!(batch(5), ((50, 51), (0, 5)), "a late gauge point keeps its own time");
    }

    #[test]
    fn every_series_has_its_own_windows_and_clones_share_them() {
        let c = Converter::new("dagnats", "b", "1");
        let clone = c.clone();
        c.metrics([
            point("m", MetricKind::Counter, 1.0, &[("q", "a")], "s", 10),
            point("m", MetricKind::Counter, 1.0, &[("q", "b")], "s", 20),
            point("m", MetricKind::Counter, 1.0, &[], "other", 30),
        ]);
        assert_eq!(c.tracked_series(), 3);
        let req = clone.metrics([
            point("m", MetricKind::Counter, 1.0, &[("q", "a")], "s", 100),
            point("m", MetricKind::Counter, 1.0, &[("q", "b")], "s", 100),
            point("m", MetricKind::Counter, 1.0, &[], "other", 100),
            point("n", MetricKind::Counter, 1.0, &[], "other", 100),
        ]);
        let s = sum_of(&req);
        assert_eq!(
            s.data_points.iter().map(window).collect::<Vec<_>>(),
            vec![(11, 100), (21, 100)],
            "each from its own previous end (t + 1 ns after one point)"
        );
        let Some(metric::Data::Sum(other)) = &metrics_of(&req, 1)[0].data else { panic!() };
        assert_eq!(window(&other.data_points[0]), (31, 100));
        let Some(metric::Data::Sum(n)) = &metrics_of(&req, 1)[1].data else { panic!() };
        assert_eq!(window(&n.data_points[0]), (100, 101), "a new metric starts at its own point");
    }

    #[test]
    fn batches_converted_on_many_threads_give_touching_windows_and_exact_totals() {
        let c = Converter::new("dagnats", "b", "1");
        let threads = 8u64;
        let batches = 50u64;
        let exported: Vec<(u64, u64, f64)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|w| {
                    let c = c.clone();
                    scope.spawn(move || {
                        let mut out = Vec::new();
                        for b in 0..batches {
                            // Interleaved times: every batch overlaps other threads' batches.
                            let t = 1_000 + (b * threads + w) * 10;
                            let req = c.metrics([
                                point("jobs", MetricKind::Counter, 1.0, &[], "s", t),
                                point("jobs", MetricKind::Counter, 2.0, &[], "s", t + 25),
                            ]);
                            let p = &sum_of(&req).data_points[0];
                            let Some(number_data_point::Value::AsDouble(v)) = p.value else { panic!() };
                            out.push((p.start_time_unix_nano, p.time_unix_nano, v));
                        }
                        out
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let mut windows = exported;
        windows.sort_by_key(|&(start, end, _)| (start, end));
        // The first window starts at the earliest point of the batch converted first, which
        // is one of the threads' first batches.
        assert!((1_000..1_000 + threads * 10).contains(&windows[0].0), "{:?}", windows[0]);
        for w in &windows {
            assert!(w.0 < w.1, "empty window {w:?}");
        }
        for pair in windows.windows(2) {
            assert_eq!(pair[1].0, pair[0].1, "windows must touch without overlapping: {pair:?}");
        }
        assert_eq!(windows.iter().map(|w| w.2).sum::<f64>(), (threads * batches * 3) as f64);
    }

    #[test]
    fn the_remembered_series_are_bounded() {
        // Nothing idle yet: the least recently converted tenth makes room.
        let c = Converter::new("dagnats", "b", "1").with_series_limits(20, std::time::Duration::from_secs(3600));
        for i in 0..200u64 {
            c.metrics([point("m", MetricKind::Counter, 1.0, &[("i", &i.to_string())], "s", i + 1)]);
            assert!(c.tracked_series() <= 20, "{} series remembered", c.tracked_series());
        }
        // The most recent series is still remembered: its next window follows on.
        let req = c.metrics([point("m", MetricKind::Counter, 1.0, &[("i", "199")], "s", 500)]);
        assert_eq!(window(&sum_of(&req).data_points[0]), (201, 500));

        // Idle series are forgotten first.
        let c = Converter::new("dagnats", "b", "1").with_series_limits(5, std::time::Duration::ZERO);
        for i in 0..50u64 {
            c.metrics([point("m", MetricKind::Counter, 1.0, &[("i", &i.to_string())], "s", 1)]);
        }
        assert!(c.tracked_series() <= 5);
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
            vec![
                (Some(number_data_point::Value::AsDouble(3.0)), 1),
                (Some(number_data_point::Value::AsDouble(7.0)), 2)
            ]
        );
    }

    #[test]
    fn histogram_observations_of_one_series_become_one_point() {
        let c = Converter::new("dagnats", "b", "1");
        let values = [0.0, 3.0, 5.0, 5.5, 120.0, 20000.0];
        let mut points: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, v)| point("dur", MetricKind::Histogram, *v, &[("step", "build")], "w", 100 + i as u64))
            .collect();
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
        let counter: MetricPoint =
            serde_json::from_str(include_str!("../../../testdata/records/go-metric.json")).unwrap();
        let hist: MetricPoint =
            serde_json::from_str(include_str!("../../../testdata/records/ours-metric.json")).unwrap();
        let req = c.metrics([counter, hist]);
        assert_eq!(metrics_of(&req, 0)[0].name, "dagnats.tasks.completed");
        assert!(matches!(metrics_of(&req, 1)[0].data, Some(metric::Data::Histogram(_))));
    }
}
