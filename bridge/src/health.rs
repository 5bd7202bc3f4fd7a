//! Whether the bridge is alive and ready, as Kubernetes probes ask.
//!
//! The pipeline reports what it sees (NATS client, consumer bound, each signal's export
//! outcomes); the metrics server answers `/livez` and `/readyz` from it.
//!
//! **Live** means the process's runtime still serves requests: `/livez` answers 200 from
//! the same runtime as the workers, so a wedged runtime fails it by timing out.
//!
//! **Ready** means, in this order (the first that fails is the reason given):
//!
//! 1. the NATS client exists and its connection is up;
//! 2. the durable consumer is bound;
//! 3. no signal's exports are *failing*.
//!
//! A signal is failing from a failed export attempt (receiver down, refusing connections,
//! answering 5xx/429, or refusing the bridge's credentials) until the first of:
//!
//! - an export of that signal succeeds (a later success wins over an earlier failure,
//!   whichever worker made them: the order is the order of the reports);
//! - the failure goes **stale**: no attempt of that signal has failed for the *failure
//!   window* (see [`Health::set_failure_window`], by default [`DEFAULT_FAILURE_WINDOW`])
//!   — or, when the pipeline said when it will try again
//!   ([`Health::export_failed_retrying_in`]), for that wait plus the window.
//!
//! Why a stale failure stops counting: a batch that failed is retried (held with backoff
//! or negatively acknowledged), and every retry that fails reports again, so while
//! anything of that signal is left to export its failures stay fresh. A failure followed
//! by nothing, for longer than the window, means there was nothing left to export (the
//! messages were dead-lettered, or the traffic stopped): the bridge would otherwise stay
//! "not ready" until the next record of that signal arrives, maybe never.
//!
//! The window should cover the longest pause between two attempts of a held batch: the
//! bridge sets it to `max(3 × flush interval, 2 × max backoff)`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::Signal;

/// The failure window until [`Health::set_failure_window`] is called.
pub const DEFAULT_FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// The failure window the bridge uses for a configuration: long enough to span the
/// longest pause between two attempts of a held batch, and a few flush intervals.
pub fn failure_window(flush_interval: Duration, max_backoff: Duration) -> Duration {
    flush_interval.saturating_mul(3).max(max_backoff.saturating_mul(2)).max(Duration::from_secs(1))
}

/// Monotonic nanoseconds since the first call in this process, never 0.
fn mono_now() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX).saturating_add(1)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The state of one signal's exports.
#[derive(Debug, Default)]
struct SignalHealth {
    /// Order of the last success and the last failure ([`Health::seq`]; 0: none).
    success_seq: AtomicU64,
    failure_seq: AtomicU64,
    /// Monotonic time ([`mono_now`]) after which the last failure is stale.
    failure_stale_at: AtomicU64,
    /// Why the last attempt failed.
    reason: Mutex<String>,
    /// Unix time of the last successful export, in nanoseconds (0: none yet).
    last_success_nanos: AtomicU64,
}

/// Readiness facts, shared by the pipeline (writer) and the metrics server (reader).
///
/// Every report is a few atomic stores (a failure also sets its reason under a lock only
/// failures take), so the pipeline can report every request.
#[derive(Debug, Default)]
pub struct Health {
    consumer_bound: AtomicBool,
    nats: Mutex<Option<async_nats::Client>>,
    signals: [SignalHealth; 3],
    /// Orders the reports of all signals.
    seq: AtomicU64,
    /// The failure window in nanoseconds (0: [`DEFAULT_FAILURE_WINDOW`]).
    window_nanos: AtomicU64,
}

/// Why the bridge is not ready, or `Ok` when it is.
pub type Readiness = Result<(), String>;

impl Health {
    /// The NATS client whose connection state counts.
    pub fn set_client(&self, client: async_nats::Client) {
        *self.nats.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
    }

    /// The durable consumer is (or is no longer) bound.
    pub fn set_consumer_bound(&self, bound: bool) {
        self.consumer_bound.store(bound, Ordering::Release);
    }

    /// How long a failure with no later attempt keeps the bridge not ready (see the
    /// module's documentation; the bridge passes [`failure_window`] of its settings).
    pub fn set_failure_window(&self, window: Duration) {
        self.window_nanos.store(nanos(window).max(1), Ordering::Relaxed);
    }

    /// The failure window in force.
    pub fn failure_window(&self) -> Duration {
        match self.window_nanos.load(Ordering::Relaxed) {
            0 => DEFAULT_FAILURE_WINDOW,
            n => Duration::from_nanos(n),
        }
    }

    /// An export of `signal` succeeded (a probe's success counts).
    pub fn export_succeeded(&self, signal: Signal) {
        let h = &self.signals[signal.index()];
        let seq = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        h.last_success_nanos.store(nanos(now).max(1), Ordering::Relaxed);
        h.success_seq.fetch_max(seq, Ordering::AcqRel);
    }

    /// An export of `signal` failed in a way that is not the data's fault (receiver down,
    /// credentials refused). It counts for the failure window.
    pub fn export_failed(&self, signal: Signal, reason: &str) {
        self.export_failed_retrying_in(signal, reason, Duration::ZERO);
    }

    /// Like [`export_failed`](Self::export_failed) when the next attempt is `retry_in`
    /// away (a held batch's backoff, a `Retry-After`, a negative acknowledgement's
    /// delay): the failure counts for that wait plus the failure window.
    pub fn export_failed_retrying_in(&self, signal: Signal, reason: &str, retry_in: Duration) {
        let h = &self.signals[signal.index()];
        *h.reason.lock().unwrap_or_else(|p| p.into_inner()) = reason.to_owned();
        let stale_at = mono_now().saturating_add(nanos(self.failure_window())).saturating_add(nanos(retry_in));
        h.failure_stale_at.store(stale_at, Ordering::Relaxed);
        let seq = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
        h.failure_seq.fetch_max(seq, Ordering::AcqRel);
    }

    /// True while `signal`'s exports fail: its last outcome is a failure, not yet stale.
    pub fn is_failing(&self, signal: Signal) -> bool {
        let h = &self.signals[signal.index()];
        h.failure_seq.load(Ordering::Acquire) > h.success_seq.load(Ordering::Acquire)
            && mono_now() < h.failure_stale_at.load(Ordering::Relaxed)
    }

    /// Unix time of `signal`'s last successful export.
    pub fn last_success(&self, signal: Signal) -> Option<SystemTime> {
        match self.signals[signal.index()].last_success_nanos.load(Ordering::Relaxed) {
            0 => None,
            n => Some(UNIX_EPOCH + Duration::from_nanos(n)),
        }
    }

    /// True when the NATS client is set and connected.
    pub fn nats_connected(&self) -> bool {
        self.nats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|c| c.connection_state() == async_nats::connection::State::Connected)
    }

    /// Ready, or why not.
    pub fn readiness(&self) -> Readiness {
        if !self.nats_connected() {
            return Err("not connected to NATS".into());
        }
        if !self.consumer_bound.load(Ordering::Acquire) {
            return Err("the durable consumer is not bound yet".into());
        }
        self.exports_readiness()
    }

    /// The third condition alone: no signal's exports failing, or which are and why.
    pub fn exports_readiness(&self) -> Readiness {
        let failing: Vec<String> = Signal::ALL
            .into_iter()
            .filter(|&s| self.is_failing(s))
            .map(|s| {
                let reason = self.signals[s.index()].reason.lock().unwrap_or_else(|p| p.into_inner()).clone();
                format!("{} exports failing: {reason}", s.as_str())
            })
            .collect();
        if failing.is_empty() {
            Ok(())
        } else {
            Err(failing.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which signals [`Health::exports_readiness`] names as failing.
    fn exports_only(h: &Health) -> Result<(), String> {
        h.exports_readiness().map_err(|e| {
            e.split("; ").map(|part| part.split_once(' ').map_or(part, |(s, _)| s)).collect::<Vec<_>>().join(",")
        })
    }

    #[test]
    fn not_ready_without_a_nats_client_or_before_the_consumer_is_bound() {
        let h = Health::default();
        assert_eq!(h.readiness(), Err("not connected to NATS".to_owned()));
        h.set_consumer_bound(true);
        assert_eq!(h.readiness(), Err("not connected to NATS".to_owned()), "bound but no client");
        assert!(!h.nats_connected());
    }

    #[test]
    fn a_failure_counts_until_a_later_success_of_the_same_signal() {
        let h = Health::default();
        assert_eq!(exports_only(&h), Ok(()), "nothing exported yet: nothing failing");
        h.export_failed(Signal::Spans, "connection refused");
        assert_eq!(exports_only(&h), Err("spans".into()));
        h.export_succeeded(Signal::Logs);
        assert_eq!(exports_only(&h), Err("spans".into()), "another signal's success does not clear it");
        h.export_succeeded(Signal::Spans);
        assert_eq!(exports_only(&h), Ok(()));
        h.export_failed(Signal::Spans, "503");
        h.export_failed(Signal::Metrics, "401");
        assert_eq!(exports_only(&h), Err("spans,metrics".into()));
        assert!(h.last_success(Signal::Spans).is_some() && h.last_success(Signal::Metrics).is_none());
    }

    #[test]
    fn a_failure_with_no_attempt_since_goes_stale_after_the_window() {
        let h = Health::default();
        h.set_failure_window(Duration::from_secs(3600));
        h.export_failed(Signal::Logs, "connection refused");
        assert!(h.is_failing(Signal::Logs));
        // The window in force when a failure is reported is the one that counts.
        h.set_failure_window(Duration::from_millis(1));
        h.export_failed(Signal::Logs, "connection refused");
        std::thread::sleep(Duration::from_millis(50));
        assert!(!h.is_failing(Signal::Logs), "nothing attempted since: stale");
        assert_eq!(h.exports_readiness(), Ok(()));
        // A later failure makes it count again.
        h.set_failure_window(Duration::from_secs(3600));
        h.export_failed(Signal::Logs, "connection refused");
        assert!(h.is_failing(Signal::Logs));
    }

    #[test]
    fn a_failure_with_a_known_retry_counts_until_the_retry_plus_the_window() {
        let h = Health::default();
        h.set_failure_window(Duration::from_millis(30));
        h.export_failed_retrying_in(Signal::Metrics, "429", Duration::from_secs(3600));
        std::thread::sleep(Duration::from_millis(90));
        assert!(h.is_failing(Signal::Metrics), "the held batch is retried in an hour: still failing");
    }

    #[test]
    fn the_window_is_a_few_flushes_or_two_backoffs() {
        assert_eq!(failure_window(Duration::from_secs(5), Duration::from_secs(30)), Duration::from_secs(60));
        assert_eq!(failure_window(Duration::from_secs(30), Duration::from_secs(1)), Duration::from_secs(90));
        assert_eq!(failure_window(Duration::from_millis(1), Duration::from_millis(1)), Duration::from_secs(1));
        assert_eq!(Health::default().failure_window(), DEFAULT_FAILURE_WINDOW);
    }

    #[test]
    fn the_reason_names_every_failing_signal_and_its_last_cause() {
        let h = Health::default();
        h.export_failed(Signal::Spans, "connection refused");
        h.export_failed(Signal::Logs, "receiver answered 500");
        h.export_failed(Signal::Logs, "the receiver refused the credentials (401)");
        assert_eq!(
            h.exports_readiness(),
            Err("spans exports failing: connection refused; logs exports failing: the receiver refused the credentials (401)"
                .to_owned())
        );
    }
}
