//! Delta sums and histograms reach the receiver as the OpenTelemetry metrics data model
//! (and the Collector's delta-to-cumulative processing) expects them, even when several
//! producers write one series at once and several bridge workers convert its points in
//! small batches concurrently: per series every window is non-empty (start < end), the
//! windows never overlap and, sorted, each starts where the previous one ended; a metric
//! stays monotonic or not for good; nothing is counted twice or lost (the deltas add up
//! to what was published); gauges keep the time of each point.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use dagnats_observe::record::{MetricKind, MetricPoint, Timestamp};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use support::*;
use testkit::NatsServer;

/// Producers writing at once.
const PRODUCERS: u64 = 4;
/// Points per producer and per metric.
const POINTS: u64 = 40;
/// 2026-11-24T10:00:00Z in Unix nanoseconds.
const BASE: u64 = 1_795_514_400_000_000_000;

/// The point that producer `w` writes `i`-th: times interleave across producers (as
/// concurrent workers' clocks do), so any batch holds a mix of them.
fn point(name: &str, kind: MetricKind, value: f64, queue: &str, w: u64, i: u64) -> MetricPoint {
    MetricPoint {
        name: name.into(),
        kind,
        value,
        tags: BTreeMap::from([("queue".to_owned(), queue.to_owned())]),
        service: "windowed".into(),
        timestamp: Timestamp(BASE + (i * PRODUCERS + w) * 1_000_000),
    }
}

/// What producer `w` writes, in its order.
fn points_of(w: u64) -> Vec<MetricPoint> {
    let mut out = Vec::new();
    for i in 0..POINTS {
        out.push(point("jobs.done", MetricKind::Counter, ((i + w) % 3 + 1) as f64, "a", w, i));
        out.push(point("jobs.done", MetricKind::Counter, 2.0, "b", w, i));
        out.push(point("job.ms", MetricKind::Histogram, (i * 7 + w) as f64, "a", w, i));
        out.push(point("queue.depth", MetricKind::Gauge, i as f64, "a", w, i));
    }
    if w == 0 {
        // A series of one increment: its single window must still have start < end.
        out.push(point("jobs.lonely", MetricKind::Counter, 5.0, "a", 0, 0));
    }
    out
}

fn tags(attrs: &[KeyValue]) -> Vec<(String, String)> {
    let mut v: Vec<_> = attrs
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Any::StringValue(s)) => s.clone(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect();
    v.sort();
    v
}

fn as_f64(v: &Option<number_data_point::Value>) -> f64 {
    match v {
        Some(number_data_point::Value::AsDouble(d)) => *d,
        Some(number_data_point::Value::AsInt(i)) => *i as f64,
        None => f64::NAN,
    }
}

type SeriesKey = (String, String, Vec<(String, String)>);

/// One exported delta point: its window and its value (a sum, or a histogram's count).
#[derive(Clone, Copy, Debug)]
struct Window {
    start: u64,
    end: u64,
    value: f64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_windows_are_consecutive_per_series_across_workers_and_batches() {
    let nats = NatsServer::start();
    let receiver = Receiver::start().await;
    let js = jetstream(&nats.url()).await;
    let mut config = test_config(&nats.url(), &receiver);
    // Many small batches converted by several workers at once: the case that used to give
    // each batch its own, overlapping, first-to-last window.
    config.workers = 4;
    config.batch_size = 7;
    let bridge = RunningBridge::start(config);

    let mut expected_sums: HashMap<Vec<(String, String)>, f64> = HashMap::new();
    let mut expected_observations = 0u64;
    let mut gauge_times = Vec::new();
    for w in 0..PRODUCERS {
        for p in points_of(w) {
            match p.kind {
                MetricKind::Counter if p.name == "jobs.done" => {
                    *expected_sums.entry(p.tags.clone().into_iter().collect()).or_default() += p.value
                }
                MetricKind::Histogram => expected_observations += 1,
                MetricKind::Gauge => gauge_times.push(p.timestamp.unix_nanos()),
                _ => {}
            }
        }
    }
    let total: f64 = expected_sums.values().sum::<f64>() + 5.0;

    // The producers write concurrently, each in its own order.
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|w| {
            let js = js.clone();
            tokio::spawn(async move {
                for p in points_of(w) {
                    let subject = format!("telemetry.metrics.{}.{}", p.service, p.name);
                    publish(&js, &subject, serde_json::to_vec(&p).unwrap()).await;
                }
            })
        })
        .collect();
    for p in producers {
        p.await.expect("producer");
    }

    let counted = |r: &Receiver| -> (f64, u64) {
        let mut sum = 0.0;
        let mut observations = 0;
        for m in r.metrics() {
            match m.metric.data {
                Some(metric::Data::Sum(s)) => sum += s.data_points.iter().map(|p| as_f64(&p.value)).sum::<f64>(),
                Some(metric::Data::Histogram(h)) => observations += h.data_points.iter().map(|p| p.count).sum::<u64>(),
                _ => {}
            }
        }
        (sum, observations)
    };
    eventually("every published increment and observation exported", || {
        let (sum, observations) = counted(&receiver);
        sum >= total && observations >= expected_observations
    })
    .await;
    // A late duplicate would show as a larger total below.
    tokio::time::sleep(Duration::from_millis(500)).await;
    bridge.stop().await;

    let mut windows: HashMap<SeriesKey, Vec<Window>> = HashMap::new();
    let mut monotonic: HashMap<String, Vec<bool>> = HashMap::new();
    let mut exported_gauge_times = Vec::new();
    let mut sums: HashMap<Vec<(String, String)>, f64> = HashMap::new();
    for m in receiver.metrics() {
        let name = m.metric.name.clone();
        match m.metric.data {
            Some(metric::Data::Sum(s)) => {
                monotonic.entry(name.clone()).or_default().push(s.is_monotonic);
                for p in s.data_points {
                    let key = (m.service.clone(), name.clone(), tags(&p.attributes));
                    if name == "jobs.done" {
                        *sums.entry(tags(&p.attributes)).or_default() += as_f64(&p.value);
                    }
                    windows.entry(key).or_default().push(Window {
                        start: p.start_time_unix_nano,
                        end: p.time_unix_nano,
                        value: as_f64(&p.value),
                    });
                }
            }
            Some(metric::Data::Histogram(h)) => {
                for p in h.data_points {
                    let key = (m.service.clone(), name.clone(), tags(&p.attributes));
                    windows.entry(key).or_default().push(Window {
                        start: p.start_time_unix_nano,
                        end: p.time_unix_nano,
                        value: p.count as f64,
                    });
                }
            }
            Some(metric::Data::Gauge(g)) => exported_gauge_times.extend(g.data_points.iter().map(|p| p.time_unix_nano)),
            other => panic!("unexpected metric data {other:?}"),
        }
    }

    assert_eq!(windows.len(), 4, "jobs.done a and b, jobs.lonely, job.ms: {:?}", windows.keys().collect::<Vec<_>>());
    for (key, mut ws) in windows {
        ws.sort_by_key(|w| (w.start, w.end));
        if key.1 != "jobs.lonely" {
            // Small batches: each series is spread over many exports, or this tests nothing.
            assert!(ws.len() >= 5, "{key:?}: only {} windows", ws.len());
        }
        for w in &ws {
            assert!(w.start < w.end, "{key:?}: an empty or reversed window {w:?}");
        }
        // The first window starts at the earliest point of the first batch converted, which
        // is a point of this series (not necessarily its very earliest: batches are
        // converted in the order the workers get to them).
        assert!(
            ws[0].start >= BASE
                && (ws[0].start - BASE).is_multiple_of(1_000_000)
                && ws[0].start < BASE + POINTS * PRODUCERS * 1_000_000,
            "{key:?}: the first window starts at a point of the series: {:?}",
            ws[0]
        );
        for pair in ws.windows(2) {
            assert!(pair[1].start >= pair[0].end, "{key:?}: windows overlap: {:?} and {:?}", pair[0], pair[1]);
            assert_eq!(pair[1].start, pair[0].end, "{key:?}: a gap between {:?} and {:?}", pair[0], pair[1]);
        }
        if key.1 == "job.ms" {
            let count: f64 = ws.iter().map(|w| w.value).sum();
            assert_eq!(count, expected_observations as f64, "{key:?}: every observation counted once");
        }
    }
    for (name, flags) in &monotonic {
        assert!(flags.iter().all(|&m| m), "{name}: a counter is a monotonic sum in every export: {flags:?}");
    }
    assert_eq!(sums, expected_sums, "the exported deltas add up to the published increments");

    exported_gauge_times.sort_unstable();
    gauge_times.sort_unstable();
    assert_eq!(exported_gauge_times, gauge_times, "every gauge point keeps its own time");
}
