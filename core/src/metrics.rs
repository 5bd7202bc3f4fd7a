//! Metric instruments: counters, gauges and histograms.
//!
//! In the record format (the default) every call publishes one [`MetricPoint`]: a
//! counter's increment, a gauge's new level or one histogram observation. The bridge
//! aggregates them into OTLP sums, gauges and histograms.
//!
//! In the engine's format ([`TelemetryFormat::Engine`](crate::TelemetryFormat)) the
//! instruments aggregate in the process, as the OpenTelemetry SDKs do: a monotonic sum per
//! counter and attribute set, the last value per gauge, and explicit-bucket histograms
//! ([`DEFAULT_HISTOGRAM_BOUNDS`]), all cumulative since the telemetry started. Every
//! interval ([`DEFAULT_METRIC_INTERVAL`], `OTEL_METRIC_EXPORT_INTERVAL`,
//! [`CollectorOptions::metric_interval`](crate::CollectorOptions::metric_interval)) and on
//! flush and shutdown, one [`Record::EngineMetric`] per instrument and attribute set goes
//! to the sink (the engine's readers take only a message's first data point). Each
//! instrument holds at most [`CARDINALITY_LIMIT`] series; measurements of further
//! attribute sets go to the series `otel.metric.overflow=true`, and are counted
//! ([`Metrics::overflowed`]).
//!
//! Recording on a series seen before allocates nothing and takes no lock that another
//! series contends for: the series live in sharded maps, found by a hash of the borrowed
//! attribute set (in any order) under a read lock; sums and gauges are atomics, a
//! histogram a mutex of its own series.
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
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use dagnats_observe::{MemorySink, Telemetry, TelemetryFormat};
//!
//! let memory = Arc::new(MemorySink::new());
//! let tel = Telemetry::with_sink_format("docs", memory.clone(), TelemetryFormat::Engine, Duration::from_secs(10));
//! let done = tel.metrics.counter("tasks.completed");
//! done.add(1.0, &[("queue", "default")]);
//! done.add(2.0, &[("queue", "default")]);
//! tel.flush(Duration::from_secs(1)).unwrap();
//! let sums = memory.engine_metrics();
//! assert_eq!(sums.len(), 1);
//! assert!(memory.metrics().is_empty());
//! ```

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use crate::attribute::{Attribute, Attributes};
use crate::engine::{EngineMetric, HistogramPoint, MetricData, NumberPoint, Temporality};
use crate::record::{MetricKind, MetricPoint, Record, Timestamp};
use crate::sink::Sink;

/// How often aggregated metrics are published when nothing else says: the engine's 10 s.
pub const DEFAULT_METRIC_INTERVAL: Duration = Duration::from_secs(10);

/// The standard variable, in milliseconds, read when no interval is given.
pub const METRIC_INTERVAL_ENV: &str = "OTEL_METRIC_EXPORT_INTERVAL";

/// Series one instrument holds at most, the overflow series included (the OpenTelemetry
/// SDKs' default cardinality limit).
pub const CARDINALITY_LIMIT: usize = 2000;

/// The attribute of the series that takes the measurements beyond [`CARDINALITY_LIMIT`].
pub const OVERFLOW_ATTRIBUTE: &str = "otel.metric.overflow";

/// Explicit bucket boundaries of histograms: the OpenTelemetry SDK default.
pub const DEFAULT_HISTOGRAM_BOUNDS: [f64; 15] =
    [0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0];

/// The bucket an observation falls in: bucket `i` holds `(bounds[i-1], bounds[i]]`, the
/// last one everything above the last bound.
pub(crate) fn bucket_index(value: f64) -> usize {
    DEFAULT_HISTOGRAM_BOUNDS.iter().position(|&b| value <= b).unwrap_or(DEFAULT_HISTOGRAM_BOUNDS.len())
}

/// The interval named by `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds), when it is set to a
/// usable value; an unusable one (not a whole number of milliseconds above zero) is
/// warned about and ignored.
pub fn metric_interval_from_env() -> Option<Duration> {
    let text = std::env::var(METRIC_INTERVAL_ENV).ok()?;
    match parse_interval(&text) {
        Ok(interval) => interval,
        Err(()) => {
            tracing::warn!(
                value = %text,
                "{METRIC_INTERVAL_ENV} is not a whole number of milliseconds above zero; ignored"
            );
            None
        }
    }
}

/// `Ok(None)` for an empty value, `Err` for an unusable one.
fn parse_interval(text: &str) -> Result<Option<Duration>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Some(Duration::from_millis(ms))),
        _ => Err(()),
    }
}

/// Creates instruments for one service. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    service: Arc<str>,
    sink: Arc<dyn Sink>,
    aggregator: Option<Arc<Aggregator>>,
}

impl Metrics {
    /// Instruments for `service` delivering to `sink`, one [`MetricPoint`] per call (the
    /// record format).
    pub fn new(service: impl Into<Arc<str>>, sink: Arc<dyn Sink>) -> Self {
        Metrics { service: service.into(), sink, aggregator: None }
    }

    /// Instruments for `service` that aggregate in the process and export one
    /// [`Record::EngineMetric`] per instrument and attribute set to `sink` every
    /// `interval` (on a thread of their own), and on [`export`](Self::export) and
    /// [`shutdown`](Self::shutdown): the engine format.
    pub fn aggregating(service: impl Into<Arc<str>>, sink: Arc<dyn Sink>, interval: Duration) -> Self {
        Self::aggregating_with_limit(service, sink, interval, CARDINALITY_LIMIT)
    }

    pub(crate) fn aggregating_with_limit(
        service: impl Into<Arc<str>>,
        sink: Arc<dyn Sink>,
        interval: Duration,
        limit: usize,
    ) -> Self {
        let service = service.into();
        let aggregator = Arc::new(Aggregator {
            service: Arc::clone(&service),
            sink: Arc::clone(&sink),
            start: Timestamp::now(),
            interval,
            limit: limit.max(2),
            streams: Mutex::new(Vec::new()),
            export_lock: Mutex::new(()),
            ticker: Mutex::new(None),
        });
        aggregator.start_ticker();
        crate::fork::register_metrics(&aggregator);
        Metrics { service, sink, aggregator: Some(aggregator) }
    }

    /// Whether these instruments aggregate (the engine format).
    pub fn is_aggregating(&self) -> bool {
        self.aggregator.is_some()
    }

    /// Exports the aggregation now, one record per instrument and attribute set, and
    /// returns how many; nothing (0) when the instruments do not aggregate.
    pub fn export(&self) -> usize {
        self.aggregator.as_ref().map_or(0, |a| a.export())
    }

    /// Exports the aggregation one last time and stops the periodic export.
    pub fn shutdown(&self) -> usize {
        self.aggregator.as_ref().map_or(0, |a| a.shutdown())
    }

    /// Measurements recorded into an overflow series so far, because their instrument
    /// already held [`CARDINALITY_LIMIT`] series.
    pub fn overflowed(&self) -> u64 {
        self.aggregator.as_ref().map_or(0, |a| a.streams().iter().map(|s| s.overflowed.load(Ordering::Relaxed)).sum())
    }

    /// Series held now, over all instruments (overflow series included).
    pub fn series(&self) -> usize {
        self.aggregator.as_ref().map_or(0, |a| a.streams().iter().map(|s| s.series()).sum())
    }

    /// In a forked child: restarts the periodic export, whose thread stayed in the parent.
    pub fn after_fork_in_child(&self) {
        if let Some(a) = &self.aggregator {
            a.after_fork_in_child();
        }
    }

    fn instrument(&self, name: &str, kind: MetricKind) -> Instrument {
        match &self.aggregator {
            Some(a) => Instrument::Aggregated(a.stream(name, kind)),
            None => Instrument::Points(PointInstrument {
                name: name.into(),
                kind,
                service: Arc::clone(&self.service),
                sink: Arc::clone(&self.sink),
            }),
        }
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
enum Instrument {
    Points(PointInstrument),
    Aggregated(Arc<Stream>),
}

impl Instrument {
    #[inline]
    fn record(&self, value: f64, tags: &[(&str, &str)]) {
        match self {
            Instrument::Points(p) => p.emit(value, tags),
            Instrument::Aggregated(s) => s.record(value, tags),
        }
    }
}

#[derive(Clone)]
struct PointInstrument {
    name: Arc<str>,
    kind: MetricKind,
    service: Arc<str>,
    sink: Arc<dyn Sink>,
}

impl PointInstrument {
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

/// A monotonic counter: each call publishes its increment (records), or adds it to the
/// series' sum (engine).
#[derive(Clone)]
pub struct Counter(Instrument);

impl Counter {
    /// Adds `value`. A negative or non-finite increment is ignored, publishing nothing,
    /// as the OpenTelemetry SDKs ignore a negative `Counter.add`: a counter is exported as
    /// a monotonic sum, which one negative increment would break for every reader. Use a
    /// [`Gauge`] for a level that goes down.
    pub fn add(&self, value: f64, tags: &[(&str, &str)]) {
        if value >= 0.0 && value.is_finite() {
            self.0.record(value, tags);
        }
    }
}

/// A gauge: each call publishes the new level (records), or replaces the series' last
/// value (engine).
#[derive(Clone)]
pub struct Gauge(Instrument);

impl Gauge {
    /// Sets the level (non-finite values are ignored: JSON cannot carry them).
    pub fn set(&self, value: f64, tags: &[(&str, &str)]) {
        if value.is_finite() {
            self.0.record(value, tags);
        }
    }
}

/// A histogram: each call publishes one observation (records), or counts it in the
/// series' buckets (engine).
#[derive(Clone)]
pub struct Histogram(Instrument);

impl Histogram {
    /// Records one observation (non-finite values are ignored).
    pub fn record(&self, value: f64, tags: &[(&str, &str)]) {
        if value.is_finite() {
            self.0.record(value, tags);
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("service", &self.service).field("aggregating", &self.is_aggregating()).finish()
    }
}

// ---------------------------------------------------------------------------------------
// Aggregation (the engine format)

/// The instruments of one [`Metrics`] and their periodic export.
pub(crate) struct Aggregator {
    service: Arc<str>,
    sink: Arc<dyn Sink>,
    /// The start of every cumulative point.
    start: Timestamp,
    interval: Duration,
    limit: usize,
    streams: Mutex<Vec<Arc<Stream>>>,
    /// One export at a time, so that a series' cumulative values are handed to the sink
    /// in the order they were taken.
    export_lock: Mutex<()>,
    ticker: Mutex<Option<Ticker>>,
}

/// The periodic export's thread: dropping `stop` ends it.
struct Ticker {
    _stop: mpsc::Sender<()>,
    pid: u32,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Aggregator {
    fn streams(&self) -> Vec<Arc<Stream>> {
        lock(&self.streams).clone()
    }

    /// The stream of the instrument `name` of `kind`: one per name and kind, shared by
    /// every handle asking for it.
    fn stream(&self, name: &str, kind: MetricKind) -> Arc<Stream> {
        let mut streams = lock(&self.streams);
        if let Some(s) = streams.iter().find(|s| s.kind == kind && *s.name == *name) {
            return Arc::clone(s);
        }
        let stream = Arc::new(Stream::new(name, kind, self.limit));
        streams.push(Arc::clone(&stream));
        stream
    }

    fn start_ticker(self: &Arc<Self>) {
        let (stop, stopped) = mpsc::channel::<()>();
        let weak: Weak<Aggregator> = Arc::downgrade(self);
        let interval = self.interval;
        let spawned = std::thread::Builder::new().name("dagnats-metrics".into()).spawn(move || {
            // Until stopped, or the aggregator is gone.
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                match weak.upgrade() {
                    Some(a) => {
                        a.export();
                    }
                    None => break,
                }
            }
        });
        match spawned {
            Ok(_) => *lock(&self.ticker) = Some(Ticker { _stop: stop, pid: std::process::id() }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the metrics export thread; metrics go out on flush only")
            }
        }
    }

    pub(crate) fn after_fork_in_child(self: &Arc<Self>) {
        let parents = lock(&self.ticker).as_ref().is_some_and(|t| t.pid != std::process::id());
        if parents {
            // Forgotten, not dropped into a channel whose thread does not exist here.
            std::mem::forget(lock(&self.ticker).take());
            self.start_ticker();
        }
    }

    fn shutdown(&self) -> usize {
        let n = self.export();
        lock(&self.ticker).take();
        n
    }

    fn export(&self) -> usize {
        let _one = lock(&self.export_lock);
        let now = Timestamp::now();
        let mut records = Vec::new();
        for stream in self.streams() {
            stream.collect(self.start, now, |data| {
                records.push(Record::EngineMetric(Box::new(EngineMetric {
                    name: stream.name.to_string(),
                    description: String::new(),
                    unit: String::new(),
                    service: Arc::clone(&self.service),
                    data,
                    timestamp: now,
                })))
            });
        }
        let n = records.len();
        for r in records {
            self.sink.export(r);
        }
        n
    }
}

/// Shards of an instrument's series: threads recording different series rarely share one.
const SHARDS: usize = 16;

/// Series of one shard, by the hash of their attribute set (collisions in the list).
type Shard = RwLock<HashMap<u64, Vec<Series>, BuildHasherDefault<Prehashed>>>;

/// The keys are hashes already.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(self.0, bytes);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// One instrument: its series.
pub(crate) struct Stream {
    name: Arc<str>,
    kind: MetricKind,
    limit: usize,
    shards: Box<[Shard]>,
    /// Series held in the shards.
    len: AtomicUsize,
    /// Takes what comes beyond the limit.
    overflow: Series,
    overflow_used: AtomicBool,
    /// Measurements recorded into the overflow series.
    overflowed: AtomicU64,
}

impl Stream {
    fn new(name: &str, kind: MetricKind, limit: usize) -> Stream {
        Stream {
            name: name.into(),
            kind,
            limit,
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            len: AtomicUsize::new(0),
            overflow: Series { attributes: Box::new([]), cell: Cell::new(kind) },
            overflow_used: AtomicBool::new(false),
            overflowed: AtomicU64::new(0),
        }
    }

    fn series(&self) -> usize {
        self.len.load(Ordering::Relaxed) + usize::from(self.overflow_used.load(Ordering::Relaxed))
    }

    fn shard(&self, hash: u64) -> &Shard {
        &self.shards[(hash >> 40) as usize % SHARDS]
    }

    /// The hot path: a series seen before is found under a read lock of its shard by the
    /// borrowed attribute set, and updated in place.
    #[inline]
    fn record(&self, value: f64, tags: &[(&str, &str)]) {
        let hash = set_hash(tags);
        {
            let map = self.shard(hash).read().unwrap_or_else(PoisonError::into_inner);
            if let Some(series) = map.get(&hash).and_then(|list| list.iter().find(|s| s.matches(tags))) {
                series.cell.record(value);
                return;
            }
        }
        self.record_new(value, tags, hash);
    }

    /// A series not found: made, unless the instrument is full.
    #[cold]
    fn record_new(&self, value: f64, tags: &[(&str, &str)], hash: u64) {
        let distinct = distinct_keys(tags);
        if distinct && self.len.load(Ordering::Relaxed) >= self.limit - 1 {
            return self.record_overflow(value);
        }
        // The canonical set: sorted by key, a repeated key keeping its last value.
        let mut canonical: Vec<(&str, &str)> = Vec::with_capacity(tags.len());
        for &(k, v) in tags.iter().rev() {
            if !canonical.iter().any(|(seen, _)| *seen == k) {
                canonical.push((k, v));
            }
        }
        canonical.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let hash = if distinct { hash } else { set_hash(&canonical) };
        let mut map = self.shard(hash).write().unwrap_or_else(PoisonError::into_inner);
        let list = map.entry(hash).or_default();
        if let Some(series) = list.iter().find(|s| s.matches(&canonical)) {
            series.cell.record(value);
            return;
        }
        if self.len.fetch_add(1, Ordering::Relaxed) >= self.limit - 1 {
            self.len.fetch_sub(1, Ordering::Relaxed);
            if list.is_empty() {
                map.remove(&hash);
            }
            drop(map);
            return self.record_overflow(value);
        }
        let series = Series {
            attributes: canonical.iter().map(|&(k, v)| (Box::from(k), Box::from(v))).collect(),
            cell: Cell::new(self.kind),
        };
        series.cell.record(value);
        list.push(series);
    }

    fn record_overflow(&self, value: f64) {
        self.overflow.cell.record(value);
        if !self.overflow_used.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                metric = %self.name,
                limit = self.limit,
                "metric holds as many attribute sets as allowed; further ones are recorded as {OVERFLOW_ATTRIBUTE}=true"
            );
        }
        self.overflowed.fetch_add(1, Ordering::Relaxed);
    }

    /// One data set per series, sorted by attributes.
    fn collect(&self, start: Timestamp, now: Timestamp, mut out: impl FnMut(MetricData)) {
        let mut taken: Vec<(AttributeSet, Snapshot)> = Vec::new();
        for shard in self.shards.iter() {
            let map = shard.read().unwrap_or_else(PoisonError::into_inner);
            for series in map.values().flatten() {
                taken.push((series.attributes.clone(), series.cell.snapshot()));
            }
        }
        taken.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let overflow = self.overflow_used.load(Ordering::Relaxed).then(|| self.overflow.cell.snapshot());
        let sets = taken.into_iter().map(|(attributes, snapshot)| {
            let attributes: Attributes =
                attributes.iter().map(|(k, v)| Attribute::string(k.to_string(), v.to_string())).collect();
            (attributes, snapshot)
        });
        let overflow = overflow.map(|s| ([Attribute::bool(OVERFLOW_ATTRIBUTE, true)].into_iter().collect(), s));
        for (attributes, snapshot) in sets.chain(overflow) {
            out(snapshot.into_data(attributes, start, now));
        }
    }
}

/// An attribute set as a series keeps it: sorted by key, keys unique.
type AttributeSet = Box<[(Box<str>, Box<str>)]>;

/// One attribute set of one instrument.
struct Series {
    attributes: AttributeSet,
    cell: Cell,
}

impl Series {
    /// Whether `tags`, in any order, is this set.
    #[inline]
    fn matches(&self, tags: &[(&str, &str)]) -> bool {
        if self.attributes.len() != tags.len() {
            return false;
        }
        // The common case: the caller passes its tags in the same order every time.
        if self.attributes.iter().zip(tags).all(|((k, v), (tk, tv))| **k == **tk && **v == **tv) {
            return true;
        }
        distinct_keys(tags)
            && tags.iter().all(|(k, v)| {
                self.attributes.binary_search_by(|(sk, _)| (**sk).cmp(k)).is_ok_and(|i| *self.attributes[i].1 == **v)
            })
    }
}

fn distinct_keys(tags: &[(&str, &str)]) -> bool {
    tags.iter().enumerate().all(|(i, (k, _))| tags[..i].iter().all(|(seen, _)| seen != k))
}

/// The aggregation of one series.
enum Cell {
    /// The sum, as f64 bits.
    Sum(AtomicU64),
    /// The last value, as f64 bits.
    Gauge(AtomicU64),
    Histogram(Mutex<HistogramState>),
}

#[derive(Clone, Copy)]
struct HistogramState {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    buckets: [u64; DEFAULT_HISTOGRAM_BOUNDS.len() + 1],
}

enum Snapshot {
    Sum(f64),
    Gauge(f64),
    Histogram(HistogramState),
}

impl Cell {
    fn new(kind: MetricKind) -> Cell {
        match kind {
            MetricKind::Counter => Cell::Sum(AtomicU64::new(0f64.to_bits())),
            MetricKind::Gauge => Cell::Gauge(AtomicU64::new(0f64.to_bits())),
            MetricKind::Histogram => Cell::Histogram(Mutex::new(HistogramState {
                count: 0,
                sum: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                buckets: [0; DEFAULT_HISTOGRAM_BOUNDS.len() + 1],
            })),
        }
    }

    #[inline]
    fn record(&self, value: f64) {
        match self {
            Cell::Sum(bits) => {
                let mut current = bits.load(Ordering::Relaxed);
                loop {
                    let next = (f64::from_bits(current) + value).to_bits();
                    match bits.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                        Ok(_) => break,
                        Err(seen) => current = seen,
                    }
                }
            }
            Cell::Gauge(bits) => bits.store(value.to_bits(), Ordering::Relaxed),
            Cell::Histogram(state) => {
                let bucket = bucket_index(value);
                let mut h = lock(state);
                h.count += 1;
                h.sum += value;
                h.min = h.min.min(value);
                h.max = h.max.max(value);
                h.buckets[bucket] += 1;
            }
        }
    }

    fn snapshot(&self) -> Snapshot {
        match self {
            Cell::Sum(bits) => Snapshot::Sum(f64::from_bits(bits.load(Ordering::Relaxed))),
            Cell::Gauge(bits) => Snapshot::Gauge(f64::from_bits(bits.load(Ordering::Relaxed))),
            Cell::Histogram(state) => Snapshot::Histogram(*lock(state)),
        }
    }
}

impl Snapshot {
    fn into_data(self, attributes: Attributes, start: Timestamp, now: Timestamp) -> MetricData {
        let point =
            |attributes, value| NumberPoint { attributes, start_time: start, time: now, value, exemplars: Vec::new() };
        match self {
            Snapshot::Sum(v) => MetricData::Sum {
                points: vec![point(attributes, v)],
                temporality: Temporality::Cumulative,
                monotonic: true,
            },
            Snapshot::Gauge(v) => MetricData::Gauge { points: vec![point(attributes, v)] },
            Snapshot::Histogram(h) => MetricData::Histogram {
                points: vec![HistogramPoint {
                    attributes,
                    start_time: start,
                    time: now,
                    count: h.count,
                    bounds: DEFAULT_HISTOGRAM_BOUNDS.to_vec(),
                    bucket_counts: h.buckets.to_vec(),
                    min: (h.count > 0).then_some(h.min),
                    max: (h.count > 0).then_some(h.max),
                    sum: h.sum,
                    exemplars: Vec::new(),
                }],
                temporality: Temporality::Cumulative,
            },
        }
    }
}

const K: u64 = 0x517c_c1b7_2722_0a95;

/// An FxHash-like hash of bytes, eight at a time.
fn hash_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ word).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    (h.rotate_left(5) ^ bytes.len() as u64).wrapping_mul(K)
}

/// Murmur3's finalizer.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A hash of an attribute set that does not depend on the order of its pairs.
#[inline]
fn set_hash(tags: &[(&str, &str)]) -> u64 {
    let sum = tags
        .iter()
        .fold(0u64, |acc, (k, v)| acc.wrapping_add(mix(hash_bytes(hash_bytes(0, k.as_bytes()), v.as_bytes()))));
    mix(sum ^ (tags.len() as u64).wrapping_mul(K))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemorySink, Telemetry, TelemetryFormat};

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

    #[test]
    fn the_interval_variable_takes_milliseconds_and_refuses_the_unusable() {
        assert_eq!(parse_interval("2500"), Ok(Some(Duration::from_millis(2500))));
        assert_eq!(parse_interval(" 60000 "), Ok(Some(Duration::from_secs(60))));
        assert_eq!(parse_interval(""), Ok(None));
        for bad in ["0", "-5", "10s", "1.5", "soon"] {
            assert_eq!(parse_interval(bad), Err(()), "{bad}");
        }
    }

    #[test]
    fn the_set_hash_ignores_order_and_tells_sets_apart() {
        assert_eq!(set_hash(&[("a", "1"), ("b", "2")]), set_hash(&[("b", "2"), ("a", "1")]));
        assert_ne!(set_hash(&[("a", "1"), ("b", "2")]), set_hash(&[("a", "2"), ("b", "1")]));
        assert_ne!(set_hash(&[("ab", "")]), set_hash(&[("a", "b")]));
        assert_ne!(set_hash(&[]), set_hash(&[("", "")]));
    }

    fn engine(limit: usize) -> (Metrics, Arc<MemorySink>) {
        let memory = Arc::new(MemorySink::new());
        (Metrics::aggregating_with_limit("svc", memory.clone(), Duration::from_secs(3600), limit), memory)
    }

    fn sums(memory: &MemorySink) -> Vec<(Vec<(String, String)>, f64)> {
        memory
            .take()
            .into_iter()
            .filter_map(|r| match r {
                Record::EngineMetric(m) => match m.data {
                    MetricData::Sum { mut points, .. } => {
                        let p = points.remove(0);
                        let attrs = p.attributes.iter().map(|a| (a.key.to_string(), a.value.to_string())).collect();
                        Some((attrs, p.value))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_attribute_set_in_any_order_is_one_series_and_a_repeated_key_keeps_its_last_value() {
        let (metrics, memory) = engine(CARDINALITY_LIMIT);
        let c = metrics.counter("c");
        c.add(1.0, &[("b", "2"), ("a", "1")]);
        c.add(2.0, &[("a", "1"), ("b", "2")]);
        c.add(4.0, &[("a", "0"), ("b", "2"), ("a", "1")]);
        metrics.counter("c").add(8.0, &[("b", "2"), ("a", "1")]);
        assert_eq!(metrics.export(), 1);
        let pairs = |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert_eq!(sums(&memory), vec![(pairs(&[("a", "1"), ("b", "2")]), 15.0)]);
    }

    #[test]
    fn series_beyond_the_limit_go_to_the_overflow_series_and_are_counted() {
        let (metrics, memory) = engine(4);
        let c = metrics.counter("c");
        for i in 0..10 {
            let v = i.to_string();
            c.add(1.0, &[("i", &v)]);
            c.add(1.0, &[("i", &v)]);
        }
        assert_eq!(metrics.series(), 4);
        assert_eq!(metrics.overflowed(), 14);
        let got = sums(&memory);
        assert!(got.is_empty(), "nothing before an export");
        metrics.export();
        let got = sums(&memory);
        assert_eq!(got.len(), 4);
        assert_eq!(got.iter().map(|(_, v)| v).sum::<f64>(), 20.0);
        assert_eq!(got[3], (vec![(OVERFLOW_ATTRIBUTE.to_string(), "true".to_string())], 14.0));
    }

    #[test]
    fn threads_recording_at_once_lose_nothing() {
        let (metrics, memory) = engine(CARDINALITY_LIMIT);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let c = metrics.counter("c");
                let h = metrics.histogram("h");
                std::thread::spawn(move || {
                    let own = t.to_string();
                    for i in 0..10_000 {
                        c.add(1.0, &[("shared", "x")]);
                        c.add(0.5, &[("thread", &own)]);
                        h.record(f64::from(i % 100), &[]);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        metrics.export();
        let records = memory.engine_metrics();
        let shared = records
            .iter()
            .find_map(|m| match &m.data {
                MetricData::Sum { points, .. } if points[0].attributes.get("shared").is_some() => Some(points[0].value),
                _ => None,
            })
            .unwrap();
        assert_eq!(shared, 40_000.0);
        let histogram = records
            .iter()
            .find_map(|m| match &m.data {
                MetricData::Histogram { points, .. } => Some(points[0].clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(histogram.count, 40_000);
        assert_eq!(histogram.bucket_counts.iter().sum::<u64>(), 40_000);
        assert_eq!((histogram.min, histogram.max), (Some(0.0), Some(99.0)));
        assert_eq!(records.len(), 1 + 4 + 1);
    }

    #[test]
    fn the_engine_telemetry_exports_on_its_interval_and_on_flush() {
        let memory = Arc::new(MemorySink::new());
        let tel =
            Telemetry::with_sink_format("svc", memory.clone(), TelemetryFormat::Engine, Duration::from_millis(50));
        tel.metrics.gauge("g").set(3.0, &[]);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while memory.engine_metrics().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!memory.engine_metrics().is_empty(), "the interval exported");
        tel.shutdown(Duration::from_secs(1)).unwrap();
        let n = memory.engine_metrics().len();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(memory.engine_metrics().len(), n, "nothing after shutdown");
        assert!(memory.metrics().is_empty(), "no point per observation");
    }
}
