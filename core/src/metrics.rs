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
//! Recording on a series seen before allocates nothing and takes no lock: each
//! instrument's series live in an open-addressing table of its own (twice as many slots
//! as the limit, filled once by compare-and-swap, never emptied), found by a hash of the
//! borrowed attribute set in any order; sums and gauges are atomics, a histogram a mutex
//! of its own series (contended only by threads recording that very series).
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

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, Weak};
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

/// One instrument: its series, in an open-addressing table of its own that is read
/// without a lock. A slot is filled once (compare-and-swap from null) and never emptied
/// while the instrument lives, so a series found stays valid; the table has at least twice
/// as many slots as the instrument may hold series, so a probe always ends.
pub(crate) struct Stream {
    name: Arc<str>,
    kind: MetricKind,
    limit: usize,
    slots: Box<[AtomicPtr<Series>]>,
    /// Series held in the slots.
    len: AtomicUsize,
    /// Takes what comes beyond the limit.
    overflow: Series,
    overflow_used: AtomicBool,
    /// Measurements recorded into the overflow series.
    overflowed: AtomicU64,
}

impl Drop for Stream {
    fn drop(&mut self) {
        for slot in self.slots.iter_mut() {
            let p = *slot.get_mut();
            if !p.is_null() {
                // SAFETY: every non-null slot holds a pointer from Box::into_raw, stored
                // once and freed only here, when no handle can reach the stream any more.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

impl Stream {
    fn new(name: &str, kind: MetricKind, limit: usize) -> Stream {
        Stream {
            name: name.into(),
            kind,
            limit,
            slots: (0..(2 * limit).next_power_of_two()).map(|_| AtomicPtr::new(std::ptr::null_mut())).collect(),
            len: AtomicUsize::new(0),
            overflow: Series { hash: 0, attributes: Box::new([]), cell: Cell::new(kind) },
            overflow_used: AtomicBool::new(false),
            overflowed: AtomicU64::new(0),
        }
    }

    fn series(&self) -> usize {
        self.len.load(Ordering::Relaxed) + usize::from(self.overflow_used.load(Ordering::Relaxed))
    }

    /// The series in the slots, from `hash`'s slot to the first empty one.
    #[inline]
    fn probe(&self, hash: u64) -> impl Iterator<Item = (&AtomicPtr<Series>, Option<&Series>)> {
        let mask = self.slots.len() - 1;
        let first = hash as usize & mask;
        (0..self.slots.len()).map(move |i| {
            let slot = &self.slots[(first + i) & mask];
            // SAFETY: a non-null slot points to a series published with Release (see
            // record_new) that lives as long as the stream (see Drop).
            (slot, unsafe { slot.load(Ordering::Acquire).as_ref() })
        })
    }

    /// The hot path: a series seen before is found by the hash of the borrowed attribute
    /// set (in any order) and updated in place, without a lock or an allocation.
    #[inline]
    fn record(&self, value: f64, tags: &[(&str, &str)]) {
        let hash = set_hash(tags);
        for (_, series) in self.probe(hash) {
            match series {
                Some(s) if s.hash == hash && s.matches(tags) => return s.cell.record(value),
                Some(_) => continue,
                None => break,
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
        let mut made: Option<Box<Series>> = None;
        for (slot, series) in self.probe(hash) {
            let series = match series {
                Some(s) => s,
                None => {
                    let new = match made.take() {
                        Some(new) => new,
                        None => {
                            if self.len.fetch_add(1, Ordering::Relaxed) >= self.limit - 1 {
                                self.len.fetch_sub(1, Ordering::Relaxed);
                                return self.record_overflow(value);
                            }
                            Box::new(Series {
                                hash,
                                attributes: canonical.iter().map(|&(k, v)| (Box::from(k), Box::from(v))).collect(),
                                cell: Cell::new(self.kind),
                            })
                        }
                    };
                    let ptr = Box::into_raw(new);
                    match slot.compare_exchange(std::ptr::null_mut(), ptr, Ordering::Release, Ordering::Acquire) {
                        // SAFETY: just published; freed only when the stream drops.
                        Ok(_) => return unsafe { &*ptr }.cell.record(value),
                        Err(winner) => {
                            // SAFETY: ours was never published; the winner lives as long as
                            // the stream.
                            made = Some(unsafe { Box::from_raw(ptr) });
                            unsafe { &*winner }
                        }
                    }
                }
            };
            if series.hash == hash && series.matches(&canonical) {
                if made.is_some() {
                    // Another thread made the same series first.
                    self.len.fetch_sub(1, Ordering::Relaxed);
                }
                return series.cell.record(value);
            }
        }
        // Unreachable while the table has more slots than the limit allows series.
        self.record_overflow(value);
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
        let mut taken: Vec<(&AttributeSet, Snapshot)> = self
            .slots
            .iter()
            // SAFETY: as in probe.
            .filter_map(|slot| unsafe { slot.load(Ordering::Acquire).as_ref() })
            .map(|s| (&s.attributes, s.cell.snapshot()))
            .collect();
        taken.sort_unstable_by(|a, b| a.0.cmp(b.0));
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
    /// [`set_hash`] of the set.
    hash: u64,
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
        if self.attributes.iter().zip(tags).all(|((k, v), (tk, tv))| same(k, tk) && same(v, tv)) {
            return true;
        }
        distinct_keys(tags)
            && tags.iter().all(|(k, v)| {
                self.attributes.binary_search_by(|(sk, _)| (**sk).cmp(k)).is_ok_and(|i| same(&self.attributes[i].1, v))
            })
    }
}

/// String equality, short strings (most keys and values) compared as one word each
/// rather than through a call to `memcmp`.
#[inline]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    // small_word reads every byte of up to eight.
    a.len() == b.len() && if a.len() <= 8 { small_word(a) == small_word(b) } else { a == b }
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

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;
const P2: u64 = 0x8ebc_6af0_9c88_c6e3;
const P3: u64 = 0x5899_65cc_7537_4cc3;

/// The high and low halves of the 128-bit product, folded (wyhash's mixing step).
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Up to eight bytes as one word, without a copy: two overlapping reads (wyhash's).
#[inline]
fn small_word(b: &[u8]) -> u64 {
    let n = b.len();
    let u32_at = |i: usize| match b.get(i..i + 4) {
        Some(&[a, b, c, d]) => u64::from(u32::from_le_bytes([a, b, c, d])),
        _ => 0,
    };
    if n >= 4 {
        u32_at(0) | (u32_at(n - 4) << 32)
    } else if n > 0 {
        (u64::from(b[0]) << 16) | (u64::from(b[n / 2]) << 8) | u64::from(b[n - 1])
    } else {
        0
    }
}

/// A hash of bytes, eight at a time, their length included.
#[inline]
fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(P0);
    let mut rest = bytes;
    while let Some((word, tail)) = rest.split_first_chunk::<8>().filter(|_| rest.len() > 8) {
        h = fold(h ^ u64::from_le_bytes(*word), P1);
        rest = tail;
    }
    fold(h ^ small_word(rest), P1)
}

/// A hash of an attribute set that does not depend on the order of its pairs: the sum of
/// the pairs' hashes (key and value hashed apart, then folded together).
#[inline]
fn set_hash(tags: &[(&str, &str)]) -> u64 {
    let sum = tags.iter().fold(0u64, |acc, (k, v)| {
        acc.wrapping_add(fold(hash_bytes(P2, k.as_bytes()) ^ P0, hash_bytes(P3, v.as_bytes()) ^ P1))
    });
    fold(sum ^ P2, (tags.len() as u64) ^ P3)
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

    #[test]
    fn short_and_long_strings_compare_by_every_byte() {
        for (a, b) in [
            ("", ""),
            ("a", "a"),
            ("abc", "abc"),
            ("queue", "queue"),
            ("defaults", "defaults"),
            ("a-long-value", "a-long-value"),
        ] {
            assert!(same(a, b), "{a} {b}");
        }
        for (a, b) in [
            ("", "a"),
            ("abc", "abd"),
            ("abc", "bbc"),
            ("queue", "queve"),
            ("default", "defaulx"),
            ("a-long-value", "a-long-valuf"),
            ("ab", "abc"),
        ] {
            assert!(!same(a, b), "{a} {b}");
        }
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
        assert_eq!(metrics.series(), 1 + 4 + 1, "a series made at once by several threads is one");
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
