//! Whether the bridge is alive and ready, as Kubernetes probes ask.
//!
//! The pipeline reports what it sees (consumer bound, each signal's last export); the
//! metrics server answers `/livez` and `/readyz` from it. Ready means: NATS connected, the
//! consumer bound, and for every signal the last export succeeded (or there was nothing
//! to export). A receiver that is down, or that refuses the bridge's credentials, makes
//! the bridge not ready until an export (or a probe) succeeds again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::Signal;

/// The state of one signal's exports.
#[derive(Debug, Default)]
struct SignalHealth {
    /// True from a failed export attempt until the next success.
    failing: AtomicBool,
    /// Why the last attempt failed.
    reason: Mutex<String>,
    /// Unix time of the last successful export, in nanoseconds (0: none yet).
    last_success_nanos: AtomicU64,
}

/// Readiness facts, shared by the pipeline (writer) and the metrics server (reader).
#[derive(Debug, Default)]
pub struct Health {
    consumer_bound: AtomicBool,
    nats: Mutex<Option<async_nats::Client>>,
    signals: [SignalHealth; 3],
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

    /// An export of `signal` succeeded (a probe's success counts).
    pub fn export_succeeded(&self, signal: Signal) {
        let h = &self.signals[signal.index()];
        h.failing.store(false, Ordering::Release);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        h.last_success_nanos.store(u64::try_from(now.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// An export of `signal` failed in a way that is not the data's fault (receiver down,
    /// credentials refused).
    pub fn export_failed(&self, signal: Signal, reason: &str) {
        let h = &self.signals[signal.index()];
        *h.reason.lock().unwrap_or_else(|p| p.into_inner()) = reason.to_owned();
        h.failing.store(true, Ordering::Release);
    }

    /// True while `signal`'s exports fail.
    pub fn is_failing(&self, signal: Signal) -> bool {
        self.signals[signal.index()].failing.load(Ordering::Acquire)
    }

    /// Unix time of `signal`'s last successful export.
    pub fn last_success(&self, signal: Signal) -> Option<SystemTime> {
        match self.signals[signal.index()].last_success_nanos.load(Ordering::Relaxed) {
            0 => None,
            n => Some(UNIX_EPOCH + Duration::from_nanos(n)),
        }
    }

    /// Ready, or why not.
    pub fn readiness(&self) -> Readiness {
        let connected = self
            .nats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|c| c.connection_state() == async_nats::connection::State::Connected);
        if !connected {
            return Err("not connected to NATS".into());
        }
        if !self.consumer_bound.load(Ordering::Acquire) {
            return Err("the durable consumer is not bound yet".into());
        }
        for signal in Signal::ALL {
            let h = &self.signals[signal.index()];
            if h.failing.load(Ordering::Acquire) {
                let reason = h.reason.lock().unwrap_or_else(|p| p.into_inner()).clone();
                return Err(format!("{} exports failing: {reason}", signal.as_str()));
            }
        }
        Ok(())
    }
}
