//! The bridge's own counters and gauges: per signal, what was received, exported,
//! retried and dead-lettered, how long export requests took and how large they were;
//! the consumer's lag and the dead-letter stream's depth ([`crate::lag`] polls them);
//! and readiness ([`crate::health`]). They are logged periodically and, with
//! `--metrics-addr`, served over HTTP: `/metrics` (Prometheus text format 0.0.4),
//! `/livez` and `/readyz` (Kubernetes probes).
//!
//! Message counters count NATS messages (an OTLP-JSON message may hold many records);
//! record counters count spans, log records and metric points.
//!
//! Everything the workers touch is an atomic: an observation is a few relaxed
//! additions, and a scrape reads the atomics without taking any lock the workers take
//! (the exposition is written by hand for that reason: the counters already live in
//! atomics the pipeline increments directly, and `prometheus-client`'s histograms take a
//! write lock per observation and encode OpenMetrics rather than the 0.0.4 text).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use crate::config::Signal;

/// Prefix of every metric name.
pub const PREFIX: &str = "dagnats_bridge_";

/// The counters of one signal (or of messages on no known signal's subject).
#[derive(Debug, Default)]
pub struct SignalCounters {
    /// Messages fetched.
    pub received: AtomicU64,
    /// Messages fetched that had been delivered before (possible duplicates).
    pub redelivered: AtomicU64,
    /// Messages acknowledged after a successful export.
    pub exported: AtomicU64,
    /// Records in successful exports.
    pub exported_records: AtomicU64,
    /// Records the receiver rejected in a partially successful export.
    pub rejected_records: AtomicU64,
    /// Message export attempts that failed and will be retried.
    pub retried: AtomicU64,
    /// Messages sent to the dead-letter stream.
    pub dead_lettered: AtomicU64,
    /// Messages re-published to TELEMETRY with their delivery count reset, because the
    /// receiver was down on their last delivery.
    pub requeued: AtomicU64,
    /// Export requests split in halves to isolate records the receiver refused.
    pub split_requests: AtomicU64,
    /// Batches held because the receiver was unavailable or refused the bridge's
    /// configuration.
    pub held: AtomicU64,
    /// Max-deliveries advisories handled: messages the server gave up on, copied into
    /// the dead-letter stream.
    pub advisories: AtomicU64,
}

/// A copy of one signal's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalSnapshot {
    /// Messages fetched.
    pub received: u64,
    /// Messages fetched that had been delivered before.
    pub redelivered: u64,
    /// Messages acknowledged after a successful export.
    pub exported: u64,
    /// Records in successful exports.
    pub exported_records: u64,
    /// Records rejected in partially successful exports.
    pub rejected_records: u64,
    /// Message export attempts that will be retried.
    pub retried: u64,
    /// Messages dead-lettered.
    pub dead_lettered: u64,
    /// Messages re-published with their delivery count reset.
    pub requeued: u64,
    /// Export requests split in halves.
    pub split_requests: u64,
    /// Batches held while the receiver was unavailable.
    pub held: u64,
    /// Max-deliveries advisories handled.
    pub advisories: u64,
}

impl SignalCounters {
    fn snapshot(&self) -> SignalSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SignalSnapshot {
            received: get(&self.received),
            redelivered: get(&self.redelivered),
            exported: get(&self.exported),
            exported_records: get(&self.exported_records),
            rejected_records: get(&self.rejected_records),
            retried: get(&self.retried),
            dead_lettered: get(&self.dead_lettered),
            requeued: get(&self.requeued),
            split_requests: get(&self.split_requests),
            held: get(&self.held),
            advisories: get(&self.advisories),
        }
    }
}

/// A histogram with fixed buckets, observed in integer units (microseconds, bytes) and
/// exposed in `1 / scale` of them (seconds, bytes). Lock-free: an observation is two
/// relaxed additions.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds (inclusive), ascending, in observed units.
    bounds: &'static [u64],
    /// Observed units per exposed unit.
    scale: f64,
    /// Per bucket (not cumulative), the last one past every bound (`+Inf`).
    counts: Box<[AtomicU64]>,
    /// Sum of the observations, in observed units.
    sum: AtomicU64,
}

/// A copy of a histogram: cumulative counts per bound, then `+Inf` (the count).
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound, observations at most it)`, in exposed units, ascending.
    pub buckets: Vec<(f64, u64)>,
    /// Every observation.
    pub count: u64,
    /// Their sum, in exposed units.
    pub sum: f64,
}

/// Export latency buckets, in microseconds: 5 ms to 10 s.
const LATENCY_BOUNDS_US: &[u64] =
    &[5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000];
/// Request size buckets, in bytes: 256 B to 16 MiB, by fours.
const SIZE_BOUNDS: &[u64] = &[256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20];

impl Histogram {
    fn new(bounds: &'static [u64], scale: f64) -> Histogram {
        Histogram {
            bounds,
            scale,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Export latencies, exposed in seconds.
    pub fn latency() -> Histogram {
        Histogram::new(LATENCY_BOUNDS_US, 1e6)
    }

    /// Request sizes, in bytes.
    pub fn size() -> Histogram {
        Histogram::new(SIZE_BOUNDS, 1.0)
    }

    /// One observation of `value` observed units.
    pub fn observe(&self, value: u64) {
        let bucket = self.bounds.partition_point(|&b| b < value);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// A copy (each atomic read once; the count is the sum of the buckets, so the
    /// `+Inf` bucket and the count always agree).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(self.bounds.len());
        for (i, &bound) in self.bounds.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            buckets.push((bound as f64 / self.scale, cumulative));
        }
        let count = cumulative + self.counts[self.bounds.len()].load(Ordering::Relaxed);
        HistogramSnapshot { buckets, count, sum: self.sum.load(Ordering::Relaxed) as f64 / self.scale }
    }
}

/// The consumer's lag and the dead-letter stream's depth, as last polled.
#[derive(Debug, Default)]
pub struct LagGauges {
    /// Messages of the stream not yet delivered to the consumer.
    pub num_pending: AtomicU64,
    /// Messages delivered and not yet acknowledged.
    pub num_ack_pending: AtomicU64,
    /// Messages delivered more than once and not yet acknowledged.
    pub num_redelivered: AtomicU64,
    /// Pull requests waiting for messages.
    pub num_waiting: AtomicU64,
    /// Unix time of the last successful consumer poll, in nanoseconds (0: never).
    pub consumer_polled_nanos: AtomicU64,
    /// Messages in the dead-letter stream.
    pub dlq_messages: AtomicU64,
    /// Bytes in the dead-letter stream.
    pub dlq_bytes: AtomicU64,
    /// Unix time of the last successful dead-letter stream poll, in nanoseconds (0: never).
    pub dlq_polled_nanos: AtomicU64,
}

/// Now, in Unix nanoseconds (at least 1, so that 0 can mean "never").
pub(crate) fn unix_nanos_now() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    u64::try_from(now.as_nanos()).unwrap_or(u64::MAX).max(1)
}

impl LagGauges {
    /// Records a consumer info.
    pub fn set_consumer(&self, num_pending: u64, num_ack_pending: u64, num_redelivered: u64, num_waiting: u64) {
        self.num_pending.store(num_pending, Ordering::Relaxed);
        self.num_ack_pending.store(num_ack_pending, Ordering::Relaxed);
        self.num_redelivered.store(num_redelivered, Ordering::Relaxed);
        self.num_waiting.store(num_waiting, Ordering::Relaxed);
        self.consumer_polled_nanos.store(unix_nanos_now(), Ordering::Release);
    }

    /// Records the dead-letter stream's state.
    pub fn set_dlq(&self, messages: u64, bytes: u64) {
        self.dlq_messages.store(messages, Ordering::Relaxed);
        self.dlq_bytes.store(bytes, Ordering::Relaxed);
        self.dlq_polled_nanos.store(unix_nanos_now(), Ordering::Release);
    }
}

/// All counters of a bridge, shared by its workers.
#[derive(Debug)]
pub struct Stats {
    signals: [SignalCounters; 3],
    unrouted: SignalCounters,
    /// Per signal: export request latencies (seconds).
    latency: [Histogram; 3],
    /// Per signal: export request body sizes (bytes).
    request_bytes: [Histogram; 3],
    /// Per signal: export requests that failed (not accepted).
    failed_requests: [AtomicU64; 3],
    /// Consumer lag and dead-letter depth, refreshed by [`crate::lag`].
    pub lag: LagGauges,
    /// Readiness facts, served on `/readyz`.
    pub health: crate::health::Health,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            signals: Default::default(),
            unrouted: SignalCounters::default(),
            latency: std::array::from_fn(|_| Histogram::latency()),
            request_bytes: std::array::from_fn(|_| Histogram::size()),
            failed_requests: Default::default(),
            lag: LagGauges::default(),
            health: crate::health::Health::default(),
        }
    }
}

/// A copy of all counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Per signal, indexed by [`Signal::index`].
    pub signals: [SignalSnapshot; 3],
    /// Messages on subjects of no known signal.
    pub unrouted: SignalSnapshot,
}

impl Snapshot {
    /// The counters of `signal`.
    pub fn signal(&self, signal: Signal) -> &SignalSnapshot {
        &self.signals[signal.index()]
    }

    /// The sum over signals and unrouted messages.
    pub fn total(&self) -> SignalSnapshot {
        let mut t = SignalSnapshot::default();
        for s in self.signals.iter().chain([&self.unrouted]) {
            t.received += s.received;
            t.redelivered += s.redelivered;
            t.exported += s.exported;
            t.exported_records += s.exported_records;
            t.rejected_records += s.rejected_records;
            t.retried += s.retried;
            t.dead_lettered += s.dead_lettered;
            t.requeued += s.requeued;
            t.split_requests += s.split_requests;
            t.held += s.held;
            t.advisories += s.advisories;
        }
        t
    }
}

type Row = (&'static str, &'static str, fn(&SignalSnapshot) -> u64);

/// The counters per signal, with their Prometheus names (without prefix) and help.
const COUNTERS: [Row; 11] = [
    ("messages_received_total", "Messages fetched from TELEMETRY.", |s| s.received),
    ("messages_redelivered_total", "Messages fetched that had been delivered before.", |s| s.redelivered),
    ("messages_exported_total", "Messages acknowledged after a successful export.", |s| s.exported),
    ("records_exported_total", "Spans, log records and metric points in successful exports.", |s| s.exported_records),
    ("records_rejected_total", "Records the receiver rejected in partially successful exports.", |s| s.rejected_records),
    ("messages_retried_total", "Message export attempts that failed and will be retried.", |s| s.retried),
    ("messages_dead_lettered_total", "Messages sent to the dead-letter stream.", |s| s.dead_lettered),
    (
        "requeued_total",
        "Messages re-published to TELEMETRY with their delivery count reset because the receiver was down on their last delivery.",
        |s| s.requeued,
    ),
    ("split_requests_total", "Export requests split in halves to isolate records the receiver refused.", |s| s.split_requests),
    (
        "held_total",
        "Batches held because the receiver was unavailable or refused the bridge's configuration.",
        |s| s.held,
    ),
    (
        "advisories_total",
        "Max-deliveries advisories handled: messages the server gave up on, copied into the dead-letter stream.",
        |s| s.advisories,
    ),
];

/// Writes `value` as a Prometheus float (`+Inf`, `NaN`, or Rust's shortest decimal).
fn float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {PREFIX}{name} {help}\n# TYPE {PREFIX}{name} {kind}");
}

fn seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

impl Stats {
    /// New, all zero.
    pub fn new() -> Arc<Stats> {
        Arc::new(Stats::default())
    }

    /// The counters of `signal`, or of unrouted messages for `None`.
    pub fn of(&self, signal: Option<Signal>) -> &SignalCounters {
        match signal {
            Some(s) => &self.signals[s.index()],
            None => &self.unrouted,
        }
    }

    /// One export request of `signal`: `bytes` of request body as sent, answered (or
    /// failed) after `latency`; `ok` when it was accepted.
    pub fn observe_export(&self, signal: Signal, bytes: usize, latency: Duration, ok: bool) {
        let i = signal.index();
        self.latency[i].observe(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        self.request_bytes[i].observe(bytes as u64);
        if !ok {
            self.failed_requests[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The export latency histogram of `signal` (seconds).
    pub fn latency(&self, signal: Signal) -> HistogramSnapshot {
        self.latency[signal.index()].snapshot()
    }

    /// The request size histogram of `signal` (bytes).
    pub fn request_sizes(&self, signal: Signal) -> HistogramSnapshot {
        self.request_bytes[signal.index()].snapshot()
    }

    /// Export requests of `signal` that were not accepted.
    pub fn failed_requests(&self, signal: Signal) -> u64 {
        self.failed_requests[signal.index()].load(Ordering::Relaxed)
    }

    /// A consistent-enough copy (each counter is read once).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { signals: self.signals.each_ref().map(SignalCounters::snapshot), unrouted: self.unrouted.snapshot() }
    }

    /// Everything in the Prometheus text exposition format (version 0.0.4).
    pub fn prometheus(&self) -> String {
        let snap = self.snapshot();
        let mut out = String::with_capacity(12 * 1024);
        for (name, help, get) in COUNTERS {
            family(&mut out, name, "counter", help);
            for signal in Signal::ALL {
                let _ = writeln!(out, "{PREFIX}{name}{{signal=\"{}\"}} {}", signal.as_str(), get(snap.signal(signal)));
            }
            let _ = writeln!(out, "{PREFIX}{name}{{signal=\"unknown\"}} {}", get(&snap.unrouted));
        }

        family(
            &mut out,
            "export_requests_failed_total",
            "counter",
            "Export requests the receiver did not accept (or that got no answer).",
        );
        for signal in Signal::ALL {
            let _ = writeln!(
                out,
                "{PREFIX}export_requests_failed_total{{signal=\"{}\"}} {}",
                signal.as_str(),
                self.failed_requests(signal)
            );
        }
        self.histogram_family(
            &mut out,
            "export_request_duration_seconds",
            "Export request latency, answered or failed.",
            &self.latency,
        );
        self.histogram_family(
            &mut out,
            "export_request_size_bytes",
            "Export request body sizes, as sent.",
            &self.request_bytes,
        );

        family(
            &mut out,
            "last_export_success_timestamp_seconds",
            "gauge",
            "Unix time of the last successful export (absent until one).",
        );
        for signal in Signal::ALL {
            if let Some(t) = self.health.last_success(signal) {
                let nanos = t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
                let _ = write!(out, "{PREFIX}last_export_success_timestamp_seconds{{signal=\"{}\"}} ", signal.as_str());
                float(&mut out, seconds(nanos));
                out.push('\n');
            }
        }

        let lag = &self.lag;
        let polled = lag.consumer_polled_nanos.load(Ordering::Acquire);
        if polled != 0 {
            let gauges: [(&str, &str, &AtomicU64); 4] = [
                (
                    "consumer_pending_messages",
                    "Messages of TELEMETRY not yet delivered to the bridge's consumer.",
                    &lag.num_pending,
                ),
                (
                    "consumer_ack_pending_messages",
                    "Messages delivered to the consumer and not yet acknowledged.",
                    &lag.num_ack_pending,
                ),
                (
                    "consumer_redelivered_messages",
                    "Messages delivered more than once and not yet acknowledged.",
                    &lag.num_redelivered,
                ),
                ("consumer_waiting_pulls", "Pull requests waiting on the consumer for messages.", &lag.num_waiting),
            ];
            for (name, help, value) in gauges {
                family(&mut out, name, "gauge", help);
                let _ = writeln!(out, "{PREFIX}{name} {}", value.load(Ordering::Relaxed));
            }
            family(
                &mut out,
                "consumer_info_timestamp_seconds",
                "gauge",
                "Unix time the consumer gauges were last read.",
            );
            let _ = write!(out, "{PREFIX}consumer_info_timestamp_seconds ");
            float(&mut out, seconds(polled));
            out.push('\n');
        }
        let polled = lag.dlq_polled_nanos.load(Ordering::Acquire);
        if polled != 0 {
            family(&mut out, "dlq_messages", "gauge", "Messages in the dead-letter stream TELEMETRY_DLQ.");
            let _ = writeln!(out, "{PREFIX}dlq_messages {}", lag.dlq_messages.load(Ordering::Relaxed));
            family(&mut out, "dlq_bytes", "gauge", "Bytes in the dead-letter stream TELEMETRY_DLQ.");
            let _ = writeln!(out, "{PREFIX}dlq_bytes {}", lag.dlq_bytes.load(Ordering::Relaxed));
            family(&mut out, "dlq_info_timestamp_seconds", "gauge", "Unix time the dead-letter gauges were last read.");
            let _ = write!(out, "{PREFIX}dlq_info_timestamp_seconds ");
            float(&mut out, seconds(polled));
            out.push('\n');
        }

        family(&mut out, "ready", "gauge", "1 when the bridge is ready (as /readyz answers), else 0.");
        let _ = writeln!(out, "{PREFIX}ready {}", u8::from(self.health.readiness().is_ok()));
        out
    }

    fn histogram_family(&self, out: &mut String, name: &str, help: &str, per_signal: &[Histogram; 3]) {
        family(out, name, "histogram", help);
        for signal in Signal::ALL {
            let h = per_signal[signal.index()].snapshot();
            let label = signal.as_str();
            for (bound, count) in &h.buckets {
                let _ = write!(out, "{PREFIX}{name}_bucket{{signal=\"{label}\",le=\"");
                float(out, *bound);
                let _ = writeln!(out, "\"}} {count}");
            }
            let _ = writeln!(out, "{PREFIX}{name}_bucket{{signal=\"{label}\",le=\"+Inf\"}} {}", h.count);
            let _ = write!(out, "{PREFIX}{name}_sum{{signal=\"{label}\"}} ");
            float(out, h.sum);
            let _ = writeln!(out, "\n{PREFIX}{name}_count{{signal=\"{label}\"}} {}", h.count);
        }
    }

    /// Writes the counters to the log as one event.
    pub fn log(&self) {
        let s = self.snapshot();
        let (sp, lo, me, un) =
            (s.signal(Signal::Spans), s.signal(Signal::Logs), s.signal(Signal::Metrics), &s.unrouted);
        let total = s.total();
        tracing::info!(
            spans_received = sp.received,
            spans_exported = sp.exported,
            spans_retried = sp.retried,
            spans_dead_lettered = sp.dead_lettered,
            logs_received = lo.received,
            logs_exported = lo.exported,
            logs_retried = lo.retried,
            logs_dead_lettered = lo.dead_lettered,
            metrics_received = me.received,
            metrics_exported = me.exported,
            metrics_retried = me.retried,
            metrics_dead_lettered = me.dead_lettered,
            unrouted_dead_lettered = un.dead_lettered,
            redelivered = total.redelivered,
            records_rejected = total.rejected_records,
            held = total.held,
            requeued = total.requeued,
            split_requests = total.split_requests,
            advisories = total.advisories,
            consumer_pending = self.lag.num_pending.load(Ordering::Relaxed),
            dlq_messages = self.lag.dlq_messages.load(Ordering::Relaxed),
            "bridge counters"
        );
    }
}

/// Logs the counters every `interval` until `stop` is cancelled.
pub async fn log_periodically(stats: Arc<Stats>, interval: Duration, stop: CancellationToken) {
    if interval.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        tokio::select! {
            _ = tick.tick() => stats.log(),
            _ = stop.cancelled() => return,
        }
    }
}

/// Binds `addr` for the metrics endpoint (separate from serving so that a bad address is
/// reported at start-up).
pub async fn bind_metrics(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// The answer to one request on the metrics address:
///
/// - `/metrics`: everything in the Prometheus text format;
/// - `/livez`: 200 `ok` (answered by the bridge's own runtime, so a runtime that no
///   longer serves fails the probe by timing out);
/// - `/readyz`: 200 `ok`, or 503 with the reason (see [`crate::health`]);
/// - any other path: 404; any method but `GET` and `HEAD`: 405.
///
/// A `HEAD` request gets the same status and headers without the body.
pub fn answer(stats: &Stats, method: &Method, path: &str) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let (status, content_type, body) = if method != Method::GET && method != Method::HEAD {
        (StatusCode::METHOD_NOT_ALLOWED, TEXT, "only GET and HEAD\n".to_owned())
    } else {
        match path {
            "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", stats.prometheus()),
            "/livez" => (StatusCode::OK, TEXT, "ok\n".to_owned()),
            "/readyz" => match stats.health.readiness() {
                Ok(()) => (StatusCode::OK, TEXT, "ok\n".to_owned()),
                Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, TEXT, format!("not ready: {reason}\n")),
            },
            _ => (StatusCode::NOT_FOUND, TEXT, "not found: try /metrics, /livez or /readyz\n".to_owned()),
        }
    };
    let mut response =
        Response::builder().status(status).header("content-type", content_type).header("cache-control", "no-store");
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response = response.header("allow", "GET, HEAD");
    }
    let body = if method == Method::HEAD {
        response = response.header("content-length", body.len());
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    response.body(Full::new(body)).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Serves `/metrics`, `/livez` and `/readyz` (see [`answer`]) on `listener` until `stop`
/// is cancelled.
pub async fn serve_metrics(listener: tokio::net::TcpListener, stats: Arc<Stats>, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let stats = Arc::clone(&stats);
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let response = answer(&stats, req.method(), req.uri().path());
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    /// One sample line of the exposition.
    #[derive(Debug)]
    struct Sample {
        name: String,
        labels: BTreeMap<String, String>,
        value: f64,
    }

    /// Parses the text format 0.0.4 strictly: every line is a `# HELP`, a `# TYPE` or a
    /// sample of a family whose `TYPE` came before (histograms with their `_bucket`,
    /// `_sum` and `_count` suffixes), each family described once, label values quoted,
    /// values floats. Panics, naming the line, on anything else.
    fn parse(text: &str) -> (HashMap<String, String>, Vec<Sample>) {
        assert!(text.ends_with('\n'), "the exposition ends with a newline");
        let mut types = HashMap::new();
        let mut helps = HashMap::new();
        let mut samples = Vec::new();
        let is_name = |n: &str| {
            !n.is_empty()
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !n.starts_with(|c: char| c.is_ascii_digit())
        };
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or_else(|| panic!("bad HELP: {line}"));
                assert!(is_name(name) && !help.is_empty(), "bad HELP: {line}");
                assert!(helps.insert(name.to_owned(), help.to_owned()).is_none(), "HELP twice: {line}");
                assert!(!types.contains_key(name), "HELP after TYPE: {line}");
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("bad TYPE: {line}"));
                assert!(is_name(name), "bad TYPE: {line}");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "bad type: {line}");
                assert!(types.insert(name.to_owned(), kind.to_owned()).is_none(), "TYPE twice: {line}");
                assert!(name.starts_with(PREFIX), "unprefixed: {line}");
                if kind == "counter" {
                    assert!(name.ends_with("_total"), "a counter's name ends in _total: {line}");
                }
            } else {
                assert!(!line.starts_with('#') && !line.is_empty(), "stray line: {line:?}");
                let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
                let value: f64 = match value {
                    "+Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
                };
                let (name, labels) = match series.split_once('{') {
                    None => (series, BTreeMap::new()),
                    Some((name, rest)) => {
                        let inner = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line}"));
                        let mut labels = BTreeMap::new();
                        for pair in inner.split(',') {
                            let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("bad label: {line}"));
                            assert!(is_name(k), "bad label name: {line}");
                            let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
                            let v = v.unwrap_or_else(|| panic!("unquoted label: {line}"));
                            assert!(!v.contains(['"', '\\', '\n']), "unescaped label: {line}");
                            assert!(labels.insert(k.to_owned(), v.to_owned()).is_none(), "label twice: {line}");
                        }
                        (name, labels)
                    }
                };
                assert!(is_name(name), "bad name: {line}");
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .filter_map(|s| name.strip_suffix(s))
                    .find(|f| types.get(*f).is_some_and(|t| t == "histogram"))
                    .unwrap_or(name);
                assert!(types.contains_key(family), "sample before its TYPE: {line}");
                if let Some(signal) = labels.get("signal") {
                    assert!(["spans", "logs", "metrics", "unknown"].contains(&signal.as_str()), "{line}");
                }
                samples.push(Sample { name: name.to_owned(), labels, value });
            }
        }
        for name in types.keys() {
            assert!(helps.contains_key(name), "no HELP for {name}");
        }
        (types, samples)
    }

    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        samples
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
    }

    #[test]
    fn prometheus_text_has_every_counter_per_signal() {
        let stats = Stats::new();
        stats.of(Some(Signal::Logs)).exported.fetch_add(3, Ordering::Relaxed);
        stats.of(None).dead_lettered.fetch_add(1, Ordering::Relaxed);
        stats.of(Some(Signal::Spans)).held.fetch_add(2, Ordering::Relaxed);
        stats.of(Some(Signal::Metrics)).requeued.fetch_add(5, Ordering::Relaxed);
        stats.of(Some(Signal::Logs)).split_requests.fetch_add(7, Ordering::Relaxed);
        stats.of(None).advisories.fetch_add(11, Ordering::Relaxed);
        let text = stats.prometheus();
        assert!(text.contains("dagnats_bridge_messages_exported_total{signal=\"logs\"} 3\n"), "{text}");
        assert!(text.contains("dagnats_bridge_messages_dead_lettered_total{signal=\"unknown\"} 1\n"));
        assert!(text.contains("# TYPE dagnats_bridge_messages_retried_total counter\n"));
        assert!(text.contains("dagnats_bridge_held_total{signal=\"spans\"} 2\n"));
        assert!(text.contains("dagnats_bridge_requeued_total{signal=\"metrics\"} 5\n"));
        assert!(text.contains("dagnats_bridge_split_requests_total{signal=\"logs\"} 7\n"));
        assert!(text.contains("dagnats_bridge_advisories_total{signal=\"unknown\"} 11\n"));
        let (types, samples) = parse(&text);
        let counters: Vec<_> =
            types.iter().filter(|(n, _)| COUNTERS.iter().any(|c| format!("{PREFIX}{}", c.0) == **n)).collect();
        assert_eq!(counters.len(), COUNTERS.len());
        for (name, _) in counters {
            assert_eq!(samples.iter().filter(|s| &s.name == name).count(), 4, "{name}: one per signal and unknown");
        }
        let total = stats.snapshot().total();
        assert_eq!(
            (total.exported, total.held, total.requeued, total.split_requests, total.advisories),
            (3, 2, 5, 7, 11)
        );
    }

    #[test]
    fn an_idle_bridge_exposes_empty_histograms_and_no_gauges_it_has_not_read() {
        let stats = Stats::new();
        let (types, samples) = parse(&stats.prometheus());
        assert_eq!(types["dagnats_bridge_export_request_duration_seconds"], "histogram");
        assert_eq!(types["dagnats_bridge_export_request_size_bytes"], "histogram");
        for signal in ["spans", "logs", "metrics"] {
            let count = value(&samples, "dagnats_bridge_export_request_duration_seconds_count", &[("signal", signal)]);
            assert_eq!(count, Some(0.0));
        }
        for absent in ["consumer_pending_messages", "dlq_messages", "last_export_success_timestamp_seconds"] {
            assert!(!samples.iter().any(|s| s.name == format!("{PREFIX}{absent}")), "{absent} before it is known");
        }
        assert_eq!(value(&samples, "dagnats_bridge_ready", &[]), Some(0.0), "no NATS client: not ready");
    }

    #[test]
    fn export_observations_fill_cumulative_buckets_per_signal() {
        let stats = Stats::new();
        stats.observe_export(Signal::Spans, 100, Duration::from_millis(3), true);
        stats.observe_export(Signal::Spans, 2000, Duration::from_millis(40), true);
        stats.observe_export(Signal::Spans, 5 << 20, Duration::from_secs(20), false);
        stats.observe_export(Signal::Logs, 256, Duration::from_millis(5), true);
        let (_, samples) = parse(&stats.prometheus());
        let d = "dagnats_bridge_export_request_duration_seconds";
        let bucket = |name: &str, signal: &str, le: &str| {
            value(&samples, &format!("{name}_bucket"), &[("signal", signal), ("le", le)])
                .unwrap_or_else(|| panic!("{name} {signal} {le}"))
        };
        assert_eq!(bucket(d, "spans", "0.005"), 1.0);
        assert_eq!(bucket(d, "spans", "0.05"), 2.0);
        assert_eq!(bucket(d, "spans", "10"), 2.0);
        assert_eq!(bucket(d, "spans", "+Inf"), 3.0);
        assert_eq!(value(&samples, &format!("{d}_count"), &[("signal", "spans")]), Some(3.0));
        let sum = value(&samples, &format!("{d}_sum"), &[("signal", "spans")]).unwrap();
        assert!((sum - 20.043).abs() < 1e-9, "{sum}");
        assert_eq!(bucket(d, "logs", "0.005"), 1.0, "an observation on a bound is in its bucket (le)");
        assert_eq!(bucket(d, "metrics", "+Inf"), 0.0);
        let b = "dagnats_bridge_export_request_size_bytes";
        assert_eq!(bucket(b, "spans", "256"), 1.0);
        assert_eq!(bucket(b, "spans", "4096"), 2.0);
        assert_eq!(bucket(b, "spans", "4194304"), 2.0);
        assert_eq!(bucket(b, "spans", "16777216"), 3.0);
        assert_eq!(value(&samples, &format!("{b}_sum"), &[("signal", "spans")]), Some((100 + 2000 + (5 << 20)) as f64));
        assert_eq!(value(&samples, "dagnats_bridge_export_requests_failed_total", &[("signal", "spans")]), Some(1.0));
        assert_eq!(stats.failed_requests(Signal::Logs), 0);
        // Every histogram's buckets are cumulative and end at its count.
        for signal in Signal::ALL {
            for h in [stats.latency(signal), stats.request_sizes(signal)] {
                assert!(h.buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "{h:?}");
                assert!(h.buckets.last().unwrap().1 <= h.count);
            }
        }
    }

    #[test]
    fn lag_dlq_and_last_success_appear_once_known() {
        let stats = Stats::new();
        stats.lag.set_consumer(12, 3, 1, 2);
        stats.lag.set_dlq(4, 900);
        stats.health.export_succeeded(Signal::Logs);
        let (types, samples) = parse(&stats.prometheus());
        for (name, want) in [
            ("consumer_pending_messages", 12.0),
            ("consumer_ack_pending_messages", 3.0),
            ("consumer_redelivered_messages", 1.0),
            ("consumer_waiting_pulls", 2.0),
            ("dlq_messages", 4.0),
            ("dlq_bytes", 900.0),
        ] {
            assert_eq!(types[&format!("{PREFIX}{name}")], "gauge");
            assert_eq!(value(&samples, &format!("{PREFIX}{name}"), &[]), Some(want), "{name}");
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        for name in ["consumer_info_timestamp_seconds", "dlq_info_timestamp_seconds"] {
            let t = value(&samples, &format!("{PREFIX}{name}"), &[]).unwrap();
            assert!(t > now - 3600.0 && t <= now + 1.0, "{name} {t}");
        }
        let t = value(&samples, "dagnats_bridge_last_export_success_timestamp_seconds", &[("signal", "logs")]).unwrap();
        assert!(t > now - 3600.0 && t <= now + 1.0, "{t}");
        assert_eq!(
            value(&samples, "dagnats_bridge_last_export_success_timestamp_seconds", &[("signal", "spans")]),
            None
        );
    }

    #[test]
    fn floats_are_written_as_prometheus_reads_them() {
        let mut out = String::new();
        for v in [0.005, 1.0, 2.5, 1e-7, 1.7e9, f64::INFINITY, f64::NAN] {
            float(&mut out, v);
            out.push(' ');
        }
        assert_eq!(out, "0.005 1 2.5 0.0000001 1700000000 +Inf NaN ");
    }

    #[test]
    fn the_endpoints_answer_by_path_and_method() {
        let stats = Stats::new();
        let body = |r: Response<Full<Bytes>>| {
            use http_body_util::BodyExt;
            let status = r.status().as_u16();
            let bytes = futures::executor::block_on(r.into_body().collect()).unwrap().to_bytes();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        };
        let (status, text) = body(answer(&stats, &Method::GET, "/metrics"));
        assert_eq!(status, 200);
        parse(&text);
        assert_eq!(body(answer(&stats, &Method::GET, "/livez")), (200, "ok\n".to_owned()));
        assert_eq!(
            body(answer(&stats, &Method::GET, "/readyz")),
            (503, "not ready: not connected to NATS\n".to_owned())
        );
        assert_eq!(body(answer(&stats, &Method::GET, "/")).0, 404);
        assert_eq!(body(answer(&stats, &Method::GET, "/metrics/x")).0, 404);
        let post = answer(&stats, &Method::POST, "/metrics");
        assert_eq!((post.status().as_u16(), post.headers()["allow"].to_str().unwrap()), (405, "GET, HEAD"));
        let head = answer(&stats, &Method::HEAD, "/readyz");
        assert_eq!(
            head.headers()["content-length"].to_str().unwrap(),
            "not ready: not connected to NATS\n".len().to_string()
        );
        assert_eq!(body(head), (503, String::new()));
    }

    #[tokio::test]
    async fn the_server_serves_get_and_head_and_stops() {
        let listener = bind_metrics("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Stats::new();
        stats.of(Some(Signal::Spans)).exported.fetch_add(1, Ordering::Relaxed);
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve_metrics(listener, Arc::clone(&stats), stop.clone()));
        let http = reqwest::Client::new();
        let get = http.get(format!("http://{addr}/metrics?x=1")).send().await.unwrap();
        assert_eq!(get.status().as_u16(), 200);
        assert!(get.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        let text = get.text().await.unwrap();
        assert!(text.contains("dagnats_bridge_messages_exported_total{signal=\"spans\"} 1\n"), "{text}");
        let head = http.head(format!("http://{addr}/livez")).send().await.unwrap();
        assert_eq!(head.status().as_u16(), 200);
        assert_eq!(head.headers()["content-length"].to_str().unwrap(), "3");
        assert_eq!(head.bytes().await.unwrap().len(), 0);
        let head = http.head(format!("http://{addr}/metrics")).send().await.unwrap();
        assert_eq!(head.status().as_u16(), 200);
        assert_eq!(head.bytes().await.unwrap().len(), 0);
        assert_eq!(http.get(format!("http://{addr}/readyz")).send().await.unwrap().status().as_u16(), 503);
        assert_eq!(http.get(format!("http://{addr}/nope")).send().await.unwrap().status().as_u16(), 404);
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), server).await.expect("stops").unwrap();
    }
}
