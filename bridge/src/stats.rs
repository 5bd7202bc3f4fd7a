//! The bridge's own counters: per signal, what was received, exported, retried and
//! dead-lettered. They are logged periodically and, with `--metrics-addr`, served in the
//! Prometheus text format.
//!
//! Message counters count NATS messages (an OTLP-JSON message may hold many records);
//! record counters count spans, log records and metric points.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use crate::config::Signal;

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
        }
    }
}

/// All counters of a bridge, shared by its workers.
#[derive(Debug, Default)]
pub struct Stats {
    signals: [SignalCounters; 3],
    unrouted: SignalCounters,
    /// Readiness facts, served on `/readyz`.
    pub health: crate::health::Health,
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
        }
        t
    }
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

    /// One export request of `signal`: `bytes` of request body, answered (or failed)
    /// after `latency`; `ok` when it was accepted.
    pub fn observe_export(&self, signal: Signal, bytes: usize, latency: Duration, ok: bool) {
        // Filled in by the metrics work: latency and size histograms per signal.
        let _ = (signal, bytes, latency, ok);
    }

    /// A consistent-enough copy (each counter is read once).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot { signals: self.signals.each_ref().map(SignalCounters::snapshot), unrouted: self.unrouted.snapshot() }
    }

    /// The counters in the Prometheus text exposition format (version 0.0.4).
    pub fn prometheus(&self) -> String {
        let snap = self.snapshot();
        type Row = (&'static str, &'static str, fn(&SignalSnapshot) -> u64);
        let rows: [Row; 7] = [
            ("messages_received_total", "Messages fetched from TELEMETRY.", |s| s.received),
            ("messages_redelivered_total", "Messages fetched that had been delivered before.", |s| s.redelivered),
            ("messages_exported_total", "Messages acknowledged after a successful export.", |s| s.exported),
            ("records_exported_total", "Spans, log records and metric points in successful exports.", |s| s.exported_records),
            ("records_rejected_total", "Records the receiver rejected in partially successful exports.", |s| s.rejected_records),
            ("messages_retried_total", "Message export attempts that failed and will be retried.", |s| s.retried),
            ("messages_dead_lettered_total", "Messages sent to the dead-letter stream.", |s| s.dead_lettered),
        ];
        let mut out = String::with_capacity(2048);
        for (name, help, get) in rows {
            let _ = writeln!(out, "# HELP dagnats_bridge_{name} {help}\n# TYPE dagnats_bridge_{name} counter");
            for signal in Signal::ALL {
                let _ = writeln!(out, "dagnats_bridge_{name}{{signal=\"{}\"}} {}", signal.as_str(), get(snap.signal(signal)));
            }
            let _ = writeln!(out, "dagnats_bridge_{name}{{signal=\"unknown\"}} {}", get(&snap.unrouted));
        }
        out
    }

    /// Writes the counters to the log as one event.
    pub fn log(&self) {
        let s = self.snapshot();
        let (sp, lo, me, un) = (s.signal(Signal::Spans), s.signal(Signal::Logs), s.signal(Signal::Metrics), &s.unrouted);
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
            redelivered = s.total().redelivered,
            records_rejected = s.total().rejected_records,
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

/// Answers every HTTP request on `listener` with the counters until `stop` is cancelled.
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
            let service = service_fn(move |_req| {
                let body = stats.prometheus();
                async move {
                    Response::builder()
                        .status(StatusCode::OK)
                        .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                        .body(Full::new(Bytes::from(body)))
                }
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
    use super::*;

    #[test]
    fn prometheus_text_has_every_counter_per_signal() {
        let stats = Stats::new();
        stats.of(Some(Signal::Logs)).exported.fetch_add(3, Ordering::Relaxed);
        stats.of(None).dead_lettered.fetch_add(1, Ordering::Relaxed);
        let text = stats.prometheus();
        assert!(text.contains("dagnats_bridge_messages_exported_total{signal=\"logs\"} 3\n"), "{text}");
        assert!(text.contains("dagnats_bridge_messages_dead_lettered_total{signal=\"unknown\"} 1\n"));
        assert!(text.contains("# TYPE dagnats_bridge_messages_retried_total counter\n"));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 7 * 4);
        assert_eq!(stats.snapshot().total().exported, 3);
    }
}
